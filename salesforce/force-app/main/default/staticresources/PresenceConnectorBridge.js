/* Presence Connector Omni-Channel bridge: the logic of the PresenceConnectorOmni utility component, with no
 * Aura (or Open CTI) dependency, so it runs and is tested outside Salesforce too.
 *
 *   var bridge = PresenceConnectorBridge.create({
 *     toolkit:    { setServicePresenceStatus({statusId}), logout(), getServicePresenceStatusId() } -> Promises
 *                 (lightning:omniToolkitAPI in the console),
 *     fetchToken: function () -> Promise of {token, agent_id, expires_at, expires_in, events_url, report_url}
 *                 (the Apex controller PresenceConnectorOmniController.streamToken in the console),
 *     wrap:       $A.getCallback in the console: every asynchronous callback (timers, promise handlers, stream
 *                 reads) runs through it, so what it does to Aura (the toolkit, $A.enqueueAction, attributes)
 *                 is not left waiting for other Aura activity; identity outside Aura,
 *     fetch, TextDecoder, setTimeout, clearTimeout: the browser's (injected for tests),
 *     relay:      optional function (message): publish on the Lightning message channel for the Open CTI
 *                 softphone, used when there is no token (Named Credential not set up),
 *     onState:    optional function (text, isError): what the component shows
 *   });
 *   bridge.start();
 *   bridge.command(data);            // a command from the message channel (the Open CTI softphone's relay)
 *   bridge.statusChanged(statusId, developerName); bridge.loggedOut(); bridge.workAccepted(workItemId, workId);
 *
 * The connector's event stream is read with fetch and a streaming body reader, not EventSource: Lightning
 * Locker's SecureWindow exposes EventSource as a plain function, not a constructor, so under Locker it may
 * never open (Lightning Web Security allows both). fetch also lets the stream token travel in the
 * Authorization header instead of the URL, and the stream resumes after a drop or a token renewal with
 * Last-Event-ID, so no command is missed in between.
 *
 * Commands arrive as `omni_channel` events on the stream. Each carries a command_id; the bridge applies it once
 * (a repeated id — a retry, or the same command over both paths — is not applied again, only acknowledged
 * again with the remembered outcome) and POSTs `ack` to report_url. The token is renewed before it expires and
 * after the stream fails, with a growing back-off.
 */
(function (root) {
  "use strict";

  var MAX_BACKOFF_MS = 60000;
  var REMEMBERED = 200;  // command outcomes kept for repeated ids

  /* The event-stream format (WHATWG HTML, "server-sent events"): `id:`, `event:`, `data:` and `retry:` lines,
   * a blank line ends an event, a line starting with ':' is a comment (keepalive). Feed text, get events. */
  function EventStreamParser() {
    this.buffer = "";
    this.lastEventId = null;
    this.retryMs = null;
    this.event = "";
    this.data = [];
  }

  EventStreamParser.prototype.push = function (chunk) {
    var events = [];
    var match;
    var line;
    var done;
    this.buffer += chunk;
    while ((match = /\r\n|\r|\n/.exec(this.buffer)) !== null) {
      if (match[0] === "\r" && match.index === this.buffer.length - 1) {
        break;  // a \r at the end of a chunk may be the first half of \r\n
      }
      line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      done = this.line(line);
      if (done) {
        events.push(done);
      }
    }
    return events;
  };

  EventStreamParser.prototype.line = function (line) {
    var colon;
    var field;
    var value;
    var done = null;
    if (line === "") {
      if (this.data.length) {
        done = { id: this.lastEventId, event: this.event || "message", data: this.data.join("\n") };
      }
      this.event = "";
      this.data = [];
      return done;
    }
    if (line.charAt(0) === ":") {
      return null;
    }
    colon = line.indexOf(":");
    field = colon < 0 ? line : line.slice(0, colon);
    value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charAt(0) === " ") {
      value = value.slice(1);
    }
    if (field === "event") {
      this.event = value;
    } else if (field === "data") {
      this.data.push(value);
    } else if (field === "id" && value.indexOf("\u0000") < 0) {
      this.lastEventId = value;
    } else if (field === "retry" && /^\d+$/.test(value)) {
      this.retryMs = parseInt(value, 10);
    }
    return null;
  };

  function identity(fn) { return fn; }

  function create(options) {
    var toolkit = options.toolkit;
    var wrap = options.wrap || identity;
    var fetchImpl = options.fetch || (root.fetch && root.fetch.bind(root));
    var Decoder = options.TextDecoder || root.TextDecoder;
    var schedule = options.setTimeout || root.setTimeout.bind(root);
    var cancel = options.clearTimeout || root.clearTimeout.bind(root);
    var onState = options.onState || function () {};
    var relay = options.relay || null;

    var session = null;      // the current token answer
    var stream = null;       // {abort, reading} of the stream being read
    var parser = new EventStreamParser();  // kept across connections: its lastEventId resumes the next one
    var renewTimer = null;
    var reconnectTimer = null;
    var failures = 0;
    var stopped = true;
    var outcomes = {};       // command_id -> {ok, error, error_code} once applied (or a Promise while applying)
    var order = [];

    // every asynchronous callback goes through `wrap` ($A.getCallback in the console)
    function later(fn, ms) { return schedule(wrap(fn), ms); }

    function report(body) {
      if (session && fetchImpl) {
        return fetchImpl(session.report_url, {
          method: "POST",
          headers: { "Authorization": "Bearer " + session.token, "Content-Type": "application/json" },
          body: JSON.stringify(body)
        }).then(wrap(function (res) {
          if (res.ok) {
            return null;
          }
          return res.json().then(wrap(function (answer) {
            var message = answer && answer.error ? answer.error.message : "HTTP " + res.status;
            onState("The connector refused a report: " + message, true);
          }), wrap(function () { onState("The connector refused a report (HTTP " + res.status + ")", true); }));
        }), wrap(function () {
          if (relay) {
            relay(toRelay(body));
          } else {
            onState("The connector cannot be reached to report.", true);
          }
        }));
      }
      if (relay) {
        relay(toRelay(body));
      }
      return Promise.resolve();
    }

    function toRelay(body) {
      var names = { statusChanged: "omniChannelStatusChanged", logout: "omniChannelLogout",
                    ack: "omniChannelAck", workAccepted: "omniChannelWorkAccepted" };
      var message = {};
      Object.keys(body).forEach(function (k) { message[k] = body[k]; });
      message.event = names[body.event] || body.event;
      return message;
    }

    function remember(id, outcome) {
      if (!(id in outcomes)) {
        order.push(id);
      }
      outcomes[id] = outcome;
      while (order.length > REMEMBERED) {
        delete outcomes[order.shift()];
      }
    }

    function failure(action, error) {
      var text = (error && (error.message || error.errorMessage)) || String(error || "failed");
      var invalid = action === "set_status" && /invalid|unknown|not found|does ?n[o']t exist|no such/i.test(text);
      return { ok: false, error: text.slice(0, 480), error_code: invalid ? "invalid_status" : "toolkit" };
    }

    function apply(data) {
      var id = data.service_presence_status_id;
      if (data.action === "set_status") {
        if (!id) {
          return Promise.resolve({ ok: false, error: "the command has no status id", error_code: "invalid_status" });
        }
        // the toolkit takes the 15-character Id
        return toolkit.setServicePresenceStatus({ statusId: String(id).slice(0, 15) }).then(
          wrap(function () { return { ok: true }; }),
          wrap(function (error) { return failure("set_status", error); }));
      }
      if (data.action === "logout") {
        return toolkit.logout().then(wrap(function () { return { ok: true }; }), wrap(function (error) {
          // logging out an agent who is already offline fails: that is the outcome asked for
          return Promise.resolve(toolkit.getServicePresenceStatusId ? toolkit.getServicePresenceStatusId() : null)
            .then(wrap(function (status) { return status ? failure("logout", error) : { ok: true }; }),
                  wrap(function () { return { ok: true }; }));
        }));
      }
      return Promise.resolve({ ok: false, error: "unknown action " + data.action, error_code: "unknown_action" });
    }

    function command(data) {
      var id;
      var known;
      var pending;
      var outcome;
      if (!data || !data.action) {
        return Promise.resolve();
      }
      id = data.command_id;
      if (!id) {
        return apply(data);  // an older connector: nothing to acknowledge
      }
      known = outcomes[id];
      pending = known && typeof known.then === "function" ? known : null;
      outcome = known ? (pending || Promise.resolve(known)) : apply(data);
      if (!known) {
        remember(id, outcome);
        outcome.then(wrap(function (result) { remember(id, result); }));
      }
      return outcome.then(wrap(function (result) {
        var ack = { event: "ack", command_id: id, ok: result.ok };
        onState(result.ok ? "" : "Omni-Channel " + data.action + " failed: " + result.error, !result.ok);
        if (!result.ok) {
          ack.error = result.error;
          ack.error_code = result.error_code;
        }
        return report(ack);
      }));
    }

    function dispatch(item) {
      var data;
      if (item.event !== "omni_channel") {
        return;
      }
      try {
        data = JSON.parse(item.data);
      } catch (notJson) {
        onState("The connector sent an event that is not JSON: " + notJson.message, true);
        return;
      }
      if (data.agent_id === session.agent_id) {
        command(data);
      }
    }

    // read one stream to its end; `current` is the stream it belongs to (a newer one replaces it)
    function read(current, reader, decoder) {
      reader.read().then(wrap(function (chunk) {
        if (current !== stream) {
          return;
        }
        if (chunk.done) {
          // the connector closed the stream (a restart, a proxy's timeout): resume where it ended
          stream = null;
          reconnectTimer = later(connect, parser.retryMs || 1000);
          return;
        }
        parser.push(decoder.decode(chunk.value, { stream: true })).forEach(dispatch);
        read(current, reader, decoder);
      }), wrap(function (error) {
        if (current === stream) {
          retry("The connection to the connector broke (" + ((error && error.message) || error) + ")");
        }
      }));
    }

    // open the event stream with the current token, resuming after the last event seen
    function connect() {
      var current = { controller: root.AbortController ? new root.AbortController() : null };
      var headers = { "Authorization": "Bearer " + session.token, "Accept": "text/event-stream" };
      if (stopped) {
        return;
      }
      if (parser.lastEventId) {
        headers["Last-Event-ID"] = parser.lastEventId;
      }
      close();
      stream = current;
      fetchImpl(session.events_url, {
        headers: headers, cache: "no-store", signal: current.controller ? current.controller.signal : undefined
      }).then(wrap(function (res) {
        if (current !== stream) {
          return;
        }
        if (res.status === 401) {
          retry("The connector refused the stream token");  // expired: the retry asks for a new one
          return;
        }
        if (!res.ok || !res.body || !res.body.getReader) {
          retry("The connector's event stream answered HTTP " + res.status);
          return;
        }
        failures = 0;
        onState("", false);
        read(current, res.body.getReader(), new Decoder());
      }), wrap(function (error) {
        if (current === stream) {
          retry("The connector cannot be reached (" + ((error && error.message) || error) + ")");
        }
      }));
    }

    function close() {
      if (stream && stream.controller) {
        stream.controller.abort();
      }
      stream = null;
      cancel(reconnectTimer);
    }

    // a (new) token, then the stream; the token is renewed well before it expires
    function open() {
      if (stopped) {
        return;
      }
      Promise.resolve().then(wrap(options.fetchToken)).then(wrap(function (answer) {
        var seconds;
        if (stopped) {
          return;
        }
        session = typeof answer === "string" ? JSON.parse(answer) : answer;
        connect();
        seconds = session.expires_in || Math.max(60, (Date.parse(session.expires_at) - Date.now()) / 1000);
        cancel(renewTimer);
        renewTimer = later(open, Math.max(30, seconds * 0.8) * 1000);
      }), wrap(function (error) {
        retry("No stream token: " + ((error && (error.message || (error.body && error.body.message))) || error));
      }));
    }

    function retry(why) {
      var delay;
      if (stopped) {
        return;
      }
      failures += 1;
      delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, failures - 1));
      onState(why + " — retrying in " + Math.round(delay / 1000) + " s", true);
      close();
      cancel(renewTimer);
      renewTimer = later(open, delay);
    }

    return {
      start: function () {
        if (stopped) {
          stopped = false;
          open();
        }
      },
      stop: function () {
        stopped = true;
        cancel(renewTimer);
        close();
      },
      command: command,
      statusChanged: function (statusId, developerName) {
        return report({ event: "statusChanged", service_presence_status_id: statusId || null,
                        developer_name: developerName || null });
      },
      loggedOut: function () { return report({ event: "logout" }); },
      workAccepted: function (workItemId, workId) {
        return report({ event: "workAccepted", work_item_id: workItemId, work_id: workId || null });
      },
      get connected() { return Boolean(stream && failures === 0); }
    };
  }

  root.PresenceConnectorBridge = { create: create, EventStreamParser: EventStreamParser };
})(typeof window !== "undefined" ? window : this);
