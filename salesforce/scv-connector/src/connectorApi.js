/**
 * The Presence Connector's REST API and event stream (/api/v1, bearer token), as this connector uses them.
 * Errors come back as ConnectorFailure with the connector's own message; the token never appears in one.
 */
import { Constants } from './base.js';
import { ConnectorFailure } from './config.js';
import { readEventStream, EventStreamParser } from './sse.js';

/** Where a change made in Salesforce is recorded as coming from (the connector's no-echo rule uses it). */
export const CHANGE_SOURCE = 'crm';

export class ConnectorApi {
    /** fetchImpl is the global fetch unless a test passes another. */
    constructor({ baseUrl, token }, fetchImpl = globalThis.fetch) {
        this.baseUrl = baseUrl;
        this.token = token;
        this.fetch = fetchImpl;
    }

    headers(extra = {}) {
        return { Authorization: `Bearer ${this.token}`, Accept: 'application/json', ...extra };
    }

    async request(method, path, body) {
        const init = { method, headers: this.headers(body ? { 'Content-Type': 'application/json' } : {}) };
        if (body) {
            init.body = JSON.stringify(body);
        }
        let response;
        try {
            response = await this.fetch(`${this.baseUrl}${path}`, init);
        } catch (e) {
            throw new ConnectorFailure(Constants.ERROR_TYPE.GENERIC_ERROR,
                `Presence Connector unreachable at ${this.baseUrl}: ${e.cause?.code || e.message}`);
        }
        const data = await response.json().catch(() => ({}));
        if (!response.ok) {
            const error = data.error || {};
            const type = response.status === 422 && error.field === 'state'
                ? Constants.ERROR_TYPE.INVALID_AGENT_STATUS : Constants.ERROR_TYPE.GENERIC_ERROR;
            const failure = new ConnectorFailure(type,
                `Presence Connector ${method} ${path} answered ${response.status}: ${error.message || response.statusText}`);
            failure.status = response.status;
            failure.field = error.field;
            failure.code = error.code;
            throw failure;
        }
        return data;
    }

    agentPath(agentId, tail) {
        return `/api/v1/agents/${encodeURIComponent(agentId)}/${tail}`;
    }

    presenceStates() {
        return this.request('GET', '/api/v1/presence-states');
    }

    presence(agentId) {
        return this.request('GET', this.agentPath(agentId, 'presence'));
    }

    /** source: `crm` for a change made in Salesforce (not echoed back), `pbx` for one the telephony system made. */
    setPresence(agentId, stateId, source = CHANGE_SOURCE) {
        return this.request('PUT', this.agentPath(agentId, 'presence'), { state: stateId, source });
    }

    logout(agentId) {
        return this.request('POST', this.agentPath(agentId, 'logout'), { logon_source: 'CRM', source: CHANGE_SOURCE });
    }

    /**
     * Follow /api/v1/events until `signal` aborts: onEvent for every event, reconnecting after the server's
     * retry interval (or retryMs) when the stream drops. onError(message) hears of each failed attempt.
     */
    async follow(onEvent, { signal, onError = () => {}, retryMs = 2000 } = {}) {
        const parser = new EventStreamParser();
        while (!signal?.aborted) {
            try {
                const headers = this.headers({ Accept: 'text/event-stream' });
                if (parser.lastEventId) {
                    headers['Last-Event-ID'] = parser.lastEventId;
                }
                const response = await this.fetch(`${this.baseUrl}/api/v1/events`, { headers, signal });
                if (!response.ok) {
                    throw new Error(`the event stream answered ${response.status}`);
                }
                await readEventStream(response, onEvent, parser);
                parser.reset();
            } catch (e) {
                if (signal?.aborted) {
                    return;
                }
                onError(`Presence Connector event stream: ${e.cause?.code || e.message}; reconnecting`);
            }
            await sleep(parser.retryMs ?? retryMs, signal);
        }
    }
}

function sleep(ms, signal) {
    return new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
}
