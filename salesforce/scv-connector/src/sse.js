/**
 * A Server-Sent Events reader over fetch.
 *
 * The browser's EventSource cannot send an Authorization header, and the connector's /api/v1/events
 * wants a bearer token, so the stream is read with fetch and parsed here (the WHATWG event-stream format:
 * `id:`, `event:`, `data:` lines, a blank line ends an event, lines starting with `:` are comments).
 */

/** Incremental parser: feed text chunks, get back complete events. */
export class EventStreamParser {
    constructor() {
        this.buffer = '';
        this.lastEventId = null;
        this.retryMs = null;
        this.reset();
    }

    reset() {
        this.event = '';
        this.data = [];
    }

    /** Parse a chunk; returns the events it completed, as {id, event, data} with data still text. */
    push(chunk) {
        this.buffer += chunk;
        const events = [];
        let newline;
        while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
            const line = this.buffer.slice(0, newline);
            const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
            this.buffer = this.buffer.slice(newline + width);
            const done = this.line(line);
            if (done) {
                events.push(done);
            }
        }
        return events;
    }

    line(line) {
        if (line === '') {
            if (this.data.length === 0) {
                this.reset();
                return null;
            }
            const done = { id: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') };
            this.reset();
            return done;
        }
        if (line.startsWith(':')) {
            return null; // keepalive comment
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) {
            value = value.slice(1);
        }
        if (field === 'event') {
            this.event = value;
        } else if (field === 'data') {
            this.data.push(value);
        } else if (field === 'id' && !value.includes('\0')) {
            this.lastEventId = value;
        } else if (field === 'retry' && /^\d+$/.test(value)) {
            this.retryMs = Number(value);
        }
        return null;
    }
}

/**
 * Read one event stream until it ends or `signal` aborts; calls onEvent({id, event, data}) with data parsed
 * as JSON. Resolves when the server closes the stream; rejects on a network or HTTP error.
 */
export async function readEventStream(response, onEvent, parser = new EventStreamParser()) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
        const { value, done } = await reader.read();
        if (done) {
            return parser;
        }
        for (const item of parser.push(decoder.decode(value, { stream: true }))) {
            let data;
            try {
                data = JSON.parse(item.data);
            } catch {
                continue; // not ours to understand; the connector only sends JSON
            }
            onEvent({ id: item.id, event: item.event, data });
        }
    }
}
