/**
 * A stand-in Presence Connector over real HTTP on 127.0.0.1: the routes the SCV connector uses, with the
 * connector's response shapes (connector/api/routes.py, connector/api/events.py), and a way to push events.
 */
import http from 'node:http';

export const STATES = [
    { id: 'ready', label: 'Ready for Calls', status: 1, status_label: 'Online', adapters: { omni_channel: 'Available' } },
    { id: 'break', label: 'Break', status: 3, status_label: 'Away', adapters: { omni_channel: { developer_name: 'Break', id: '0N5000000000002AAA' } } },
    { id: 'on-a-call', label: 'On a Call', status: 6, status_label: 'On a call', adapters: {} },
    { id: 'wrap-up', label: 'Wrap-up', status: 4, status_label: 'DND', adapters: {} }
];

export class FakeConnector {
    constructor({ token = 'tok-secret', agents = ['edred'] } = {}) {
        this.token = token;
        this.requests = [];
        this.streams = new Set();
        this.views = Object.fromEntries(agents.map((id) => [id, view(id, STATES[0])]));
        this.nextId = 1;
        this.opened = 0;
    }

    async start() {
        this.server = http.createServer((req, res) => this.handle(req, res));
        await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
        this.url = `http://127.0.0.1:${this.server.address().port}`;
        return this;
    }

    async stop() {
        this.streams.forEach((res) => res.end());
        this.server.closeAllConnections();
        await new Promise((resolve) => this.server.close(resolve));
    }

    /** Push one event to every open stream, as the connector's bus does. */
    emit(event, data) {
        const text = `id: ${this.nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
        this.streams.forEach((res) => res.write(text));
    }

    /** Resolves once the n-th event stream since start has been opened (and is still open). */
    async streamsOpen(n = 1, timeoutMs = 5000) {
        const until = Date.now() + timeoutMs;
        while (this.opened < n || this.streams.size === 0) {
            if (Date.now() > until) {
                throw new Error(`no event stream opened within ${timeoutMs} ms`);
            }
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
    }

    handle(req, res) {
        let body = '';
        req.on('data', (chunk) => { body += chunk; });
        req.on('end', () => {
            const parsed = body ? JSON.parse(body) : null;
            this.requests.push({ method: req.method, url: req.url, body: parsed, auth: req.headers.authorization });
            if (req.headers.authorization !== `Bearer ${this.token}`) {
                return json(res, 401, { error: { code: 'unauthorized', message: 'the bearer token is not valid', field: 'Authorization' } });
            }
            const match = req.url.match(/^\/api\/v1\/agents\/([^/]+)\/(presence|logout)$/);
            if (req.method === 'GET' && req.url === '/api/v1/presence-states') {
                return json(res, 200, { name: 'Test', states: STATES });
            }
            if (req.method === 'GET' && req.url === '/api/v1/events') {
                res.writeHead(200, { 'Content-Type': 'text/event-stream' });
                res.write('retry: 50\n\n');
                res.write(`event: snapshot\ndata: ${JSON.stringify({ agents: Object.values(this.views) })}\n\n`);
                this.streams.add(res);
                this.opened += 1;
                res.on('close', () => this.streams.delete(res));
                return undefined;
            }
            if (!match) {
                return json(res, 404, { error: { code: 'not_found', message: 'no such route' } });
            }
            const agent = decodeURIComponent(match[1]);
            if (!this.views[agent]) {
                return json(res, 404, { error: { code: 'not_found', message: `no agent '${agent}'`, field: 'agent_id' } });
            }
            if (match[2] === 'presence' && req.method === 'GET') {
                return json(res, 200, this.views[agent]);
            }
            if (match[2] === 'presence' && req.method === 'PUT') {
                const state = STATES.find((s) => s.id === parsed.state);
                if (!state) {
                    return json(res, 422, { error: { code: 'invalid', message: `unknown state '${parsed.state}'`, field: 'state' } });
                }
                this.views[agent] = { ...this.views[agent], state };
                this.emit('presence', { agent_id: agent, state, source: parsed.source });
                return json(res, 200, this.views[agent]);
            }
            if (match[2] === 'logout' && req.method === 'POST') {
                this.views[agent] = { ...this.views[agent], state: null, logged_in: false };
                this.emit('presence', { agent_id: agent, state: null, source: parsed.source });
                return json(res, 200, this.views[agent]);
            }
            return json(res, 405, { error: { code: 'method', message: 'method not allowed' } });
        });
    }
}

export function view(id, state, extra = {}) {
    return { id, name: id, logged_in: state !== null, state, on_call: false, ...extra };
}

function json(res, status, data) {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(data));
}
