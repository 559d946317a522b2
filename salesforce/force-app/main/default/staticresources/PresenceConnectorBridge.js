/* Presence Connector Omni-Channel bridge: the logic of the PresenceConnectorOmni utility component, with no
 * Aura (or Open CTI) dependency, so it runs and is tested outside Salesforce too.
 *
 *   var bridge = PresenceConnectorBridge.create({
 *     toolkit:    { setServicePresenceStatus({statusId}), logout(), getServicePresenceStatusId() } -> Promises
 *                 (lightning:omniToolkitAPI in the console),
 *     fetchToken: function () -> Promise of {token, agent_id, expires_at, expires_in, events_url, report_url}
 *                 (the Apex controller PresenceConnectorOmniController.streamToken in the console),
 *     EventSource, fetch: the browser's (injected for tests),
 *     relay:      optional function (message): publish on the Lightning message channel for the Open CTI
 *                 softphone, used when there is no token (Named Credential not set up),
 *     onState:    optional function (text, isError): what the component shows
 *   });
 *   bridge.start();
 *   bridge.command(data);            // a command from the message channel (the Open CTI softphone's relay)
 *   bridge.statusChanged(statusId, developerName); bridge.loggedOut(); bridge.workAccepted(workItemId, workId);
 *
 * Commands arrive as `omni_channel` events on the connector's stream (?stream_token=, CORS). Each carries a
 * command_id; the bridge applies it once (a repeated id — a retry, or the same command over both paths — is
 * not applied again, only acknowledged again with the remembered outcome) and POSTs `ack` to report_url.
 * The token is renewed before it expires and after the stream fails, with a growing back-off.
 */
(function (root) {
  "use strict";

  var MAX_BACKOFF_MS = 60000;
  var REMEMBERED = 200;  // command outcomes kept for repeated ids

  function create(options) {
    var toolkit = options.toolkit;
    var EventSourceImpl = options.EventSource || root.EventSource;
    var fetchImpl = options.fetch || (root.fetch && root.fetch.bind(root));
    var schedule = options.setTimeout || root.setTimeout.bind(root);
    var cancel = options.clearTimeout || root.clearTimeout.bind(root);
    var onState = options.onState || function () {};
    var relay = options.relay || null;

    var session = null;      // the current token answer
    var stream = null;
    var renewTimer = null;
    var failures = 0;
    var stopped = true;
    var outcomes = {};       // command_id -> {ok, error, error_code} once applied (or a Promise while applying)
    var order = [];

    function report(body) {
      if (session && fetchImpl) {
        return fetchImpl(session.report_url, {
          method: "POST",
          headers: { "Authorization": "Bearer " + session.token, "Content-Type": "application/json" },
          body: JSON.stringify(body)
        }).then(function (res) {
          if (!res.ok) {
            return res.json().then(function (answer) {
              var message = answer && answer.error ? answer.error.message : "HTTP " + res.status;
              onState("The connector refused a report: " + message, true);
            }, function () { onState("The connector refused a report (HTTP " + res.status + ")", true); });
          }
        }, function () {
          if (relay) relay(toRelay(body)); else onState("The connector cannot be reached to report.", true);
        });
      }
      if (relay) relay(toRelay(body));
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
      if (!(id in outcomes)) order.push(id);
      outcomes[id] = outcome;
      while (order.length > REMEMBERED) delete outcomes[order.shift()];
    }

    function failure(action, error) {
      var text = (error && (error.message || error.errorMessage)) || String(error || "failed");
      var invalid = action === "set_status" && /invalid|unknown|not found|does ?n[o']t exist|no such/i.test(text);
      return { ok: false, error: text.slice(0, 480), error_code: invalid ? "invalid_status" : "toolkit" };
    }

    function apply(data) {
      if (data.action === "set_status") {
        var id = data.service_presence_status_id;
        if (!id) return Promise.resolve({ ok: false, error: "the command has no status id", error_code: "invalid_status" });
        // the toolkit takes the 15-character Id
        return toolkit.setServicePresenceStatus({ statusId: String(id).slice(0, 15) }).then(function () {
          return { ok: true };
        }, function (error) { return failure("set_status", error); });
      }
      if (data.action === "logout") {
        return toolkit.logout().then(function () { return { ok: true }; }, function (error) {
          // logging out an agent who is already offline fails: that is the outcome asked for
          return Promise.resolve(toolkit.getServicePresenceStatusId ? toolkit.getServicePresenceStatusId() : null)
            .then(function (status) { return status ? failure("logout", error) : { ok: true }; },
                  function () { return { ok: true }; });
        });
      }
      return Promise.resolve({ ok: false, error: "unknown action " + data.action, error_code: "unknown_action" });
    }

    function command(data) {
      if (!data || !data.action) return Promise.resolve();
      var id = data.command_id;
      if (!id) return apply(data);  // an older connector: nothing to acknowledge
      var known = outcomes[id];
      var pending = known && typeof known.then === "function" ? known : null;
      var outcome = known ? (pending || Promise.resolve(known)) : apply(data);
      if (!known) {
        remember(id, outcome);
        outcome.then(function (result) { remember(id, result); });
      }
      return outcome.then(function (result) {
        onState(result.ok ? "" : "Omni-Channel " + data.action + " failed: " + result.error, !result.ok);
        var ack = { event: "ack", command_id: id, ok: result.ok };
        if (!result.ok) { ack.error = result.error; ack.error_code = result.error_code; }
        return report(ack);
      });
    }

    function open() {
      if (stopped) return;
      Promise.resolve().then(options.fetchToken).then(function (answer) {
        if (stopped) return;
        session = typeof answer === "string" ? JSON.parse(answer) : answer;
        var next = new EventSourceImpl(session.events_url + "?stream_token=" + encodeURIComponent(session.token));
        next.addEventListener("open", function () { failures = 0; onState("", false); });
        next.addEventListener("omni_channel", function (ev) {
          var data = JSON.parse(ev.data);
          if (data.agent_id === session.agent_id) command(data);
        });
        next.addEventListener("error", function () {
          // EventSource retries by itself; once it gives up (CLOSED: e.g. the token expired) get a new one
          if (next.readyState === 2 && next === stream) retry("The connection to the connector was refused");
        });
        if (stream) stream.close();
        stream = next;
        var seconds = session.expires_in || Math.max(60, (Date.parse(session.expires_at) - Date.now()) / 1000);
        cancel(renewTimer);
        renewTimer = schedule(open, Math.max(30, seconds * 0.8) * 1000);  // well before it expires
      }, function (error) {
        retry("No stream token: " + ((error && (error.message || (error.body && error.body.message))) || error));
      });
    }

    function retry(why) {
      if (stopped) return;
      failures += 1;
      var delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, failures - 1));
      onState(why + " — retrying in " + Math.round(delay / 1000) + " s", true);
      if (stream) { stream.close(); stream = null; }
      cancel(renewTimer);
      renewTimer = schedule(open, delay);
    }

    return {
      start: function () { if (stopped) { stopped = false; open(); } },
      stop: function () {
        stopped = true;
        cancel(renewTimer);
        if (stream) { stream.close(); stream = null; }
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
      get connected() { return !!(stream && stream.readyState === 1); }
    };
  }

  root.PresenceConnectorBridge = { create: create };
})(typeof window !== "undefined" ? window : this);
