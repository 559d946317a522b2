/**
 * Salesforce's side of the real base package, as the base package itself talks to it: the console posts
 * SETUP_CONNECTOR (with a MessagePort) to the connector's window from a Salesforce origin, then exchanges
 * messages over that port. Nothing of the base package is replaced.
 */
import { MessageChannel } from 'node:worker_threads';
import { initializeConnector } from '../../src/base.js';

/** A window with just what the base package uses: add/removeEventListener('message'). */
function installWindow() {
    if (!globalThis.window) {
        const listeners = new Set();
        globalThis.window = {
            addEventListener: (type, fn) => type === 'message' && listeners.add(fn),
            removeEventListener: (type, fn) => listeners.delete(fn),
            post: (message) => [...listeners].forEach((fn) => fn(message))
        };
    }
    return globalThis.window;
}

export class FakeSalesforce {
    constructor() {
        this.received = [];
        this.waiters = [];
    }

    /** Start the connector as the console does; resolves with the CONNECTOR_READY (or error) message. */
    async setUp(connector, connectorConfig) {
        const win = installWindow();
        initializeConnector(connector);
        const channel = new MessageChannel();
        this.port = channel.port1;
        this.port.on('message', (data) => {
            this.received.push(data);
            this.waiters = this.waiters.filter((w) => !(w.match(data) && (w.resolve(data), true)));
        });
        win.post({ data: { type: 'SETUP_CONNECTOR', connectorConfig },
            origin: 'https://acme.lightning.force.com', ports: [channel.port2] });
        return this.next((m) => m.type === 'CONNECTOR_READY' || this.isEvent(m, 'ERROR'));
    }

    isEvent(message, type) {
        return message.type === 'TELEPHONY_EVENT_DISPATCHED' && message.payload.telephonyEventType === type;
    }

    /** The next message (already received or coming) that matches, within timeoutMs. */
    next(match, timeoutMs = 5000, after = 0) {
        const seen = this.received.slice(after).find(match);
        if (seen) {
            return Promise.resolve(seen);
        }
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('Salesforce heard nothing that matched in time; got: ' +
                JSON.stringify(this.received.map((m) => m.payload?.telephonyEventType || m.type)))), timeoutMs);
            this.waiters.push({ match, resolve: (m) => { clearTimeout(timer); resolve(m); } });
        });
    }

    /** The next telephony event of a type (e.g. SET_AGENT_STATUS) dispatched after message index `after`. */
    event(type, timeoutMs, after = 0) {
        return this.next((m) => this.isEvent(m, type), timeoutMs, after).then((m) => m.payload.telephonyEventPayload);
    }

    send(message) {
        this.port.postMessage(message);
    }

    /** The rep picks an Omni-Channel status; resolves with SET_AGENT_STATUS_RESULT's payload. */
    async setStatus(statusInfo, enqueueNextState = false) {
        const mark = this.received.length;
        this.send({ type: 'SET_AGENT_STATUS', agentStatus: 'Online', statusInfo, enqueueNextState });
        return this.event('SET_AGENT_STATUS_RESULT', 5000, mark);
    }

    close() {
        this.port?.close();
    }
}
