/* The agent's softphone: presence picklist, timer, wrap-up countdown, dial, login/logout, and inside the
   Salesforce console (Open CTI): click-to-dial, screen pop of inbound callers, a panel height that fits the
   content (240-2560 px), and the relay to the Omni-Channel component. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var root = $("phone");
  var agentId = root.getAttribute("data-agent");
  var sfOrigin = root.getAttribute("data-sf-origin");
  var OMNI_CHANNEL = "Presence_Connector_Omni__c";
  var PANEL_MIN = 240, PANEL_MAX = 2560;  // Open CTI's documented range for setSoftphonePanelHeight
  var base = "/api/v1/agents/" + encodeURIComponent(agentId);

  var view = null;          // the agent as the server last described it
  var states = [];          // the active configuration's states
  var stateSince = 0;       // client time the current state started (from seconds_in_state)
  var wrapUpEnds = null;    // client time wrap-up ends
  var heartbeatSeconds = 30;
  var connected = false;
  var embedded = false;
  var settleAsked = 0;
  var announced = null;     // what the live region last said (state changes only, never the timer)

  //: why a logout the agent did not make happened, by logon source (a takeover says it in session_ended)
  var FORCED_LOGOUT = {
    "Supervisor": "a supervisor logged you out",
    "API": "an integration logged you out through the API",
    "Scheduled Log Off": "the scheduled daily log off ended your session",
    "Inactivity Timeout": "you were logged out after a period of inactivity",
    "Softphone Connection Lost": "the connection to the server was lost for too long",
    "CRM": "you were logged out from the CRM",
    "PBX Short Code": "you were logged out with a PBX short code",
    "Paired Device": "your paired device logged you out",
    "Skype for Business": "you were logged out from Skype for Business",
    "Teams": "you were logged out from Teams"
  };

  function showMessage(text, kind) {
    var box = $("message");
    box.textContent = text || "";
    box.className = "message" + (kind === "info" ? " info" : "") + (text ? "" : " hidden");
  }

  /** An error shown next to the control it is about (state, dial, logout); empty text clears it. */
  function showFieldError(id, text, control) {
    var box = $(id);
    box.textContent = text || "";
    box.classList.toggle("hidden", !text);
    if (control) {
      control.classList.toggle("invalid", !!text);
      if (text) control.setAttribute("aria-invalid", "true"); else control.removeAttribute("aria-invalid");
    }
  }

  function clearFieldErrors() {
    showFieldError("state-error", "", $("state"));
    showFieldError("dial-error", "", $("dial-number"));
    showFieldError("logout-error", "");
  }

  /** Tell screen readers about a new state once (the banner's timer ticks silently). */
  function announce(agent) {
    var text = !agent.logged_in ? "Logged out" : agent.state ? "Now " + agent.state.display : "";
    if (agent.logged_in && agent.wrap_up_remaining_seconds !== null && agent.wrap_up_remaining_seconds !== undefined) {
      text += ", wrap-up " + agent.wrap_up_remaining_seconds + " seconds";
    }
    var key = agent.logged_in + "|" + (agent.state ? agent.state.id : "") + "|" + (agent.state_since || "");
    if (key === announced) return;
    announced = key;
    $("announce").textContent = text;
  }

  function setConnection(state, retry) {
    var line = $("connection");
    connected = state === "ok";
    line.className = "status-line " + state;
    line.textContent = state === "ok" ? "Connected" :
      state === "lost" ? "Connection to the server lost — retrying in " + retry + " s" : "Connecting…";
  }

  function fillPicklist() {
    var select = $("state");
    var current = view && view.state;
    select.textContent = "";
    states.forEach(function (st) {
      if (!st.selectable && !(current && current.id === st.id)) return;
      select.appendChild(PC.el("option", { value: st.id, text: st.display, disabled: !st.selectable }));
    });
    if (current) select.value = current.id;
  }

  function render(agent) {
    view = agent;
    $("agent-name").textContent = agent.name || agent.id;
    var box = $("current");
    $("logged-in-panel").classList.toggle("hidden", !agent.logged_in);
    $("logged-out-panel").classList.toggle("hidden", agent.logged_in);
    if (agent.logged_in && agent.state) {
      box.className = "current";
      box.style.background = agent.state.colour;
      box.style.color = agent.state.text_colour || "";  // white or dark, whichever reads (WCAG AA)
      $("current-label").textContent = agent.state.display;
      stateSince = Date.now() - (agent.seconds_in_state || 0) * 1000;
    } else {
      box.className = "current offline";
      box.style.background = "";
      box.style.color = "";
      $("current-label").textContent = "Logged out";
      stateSince = Date.now() - (agent.seconds_in_state || 0) * 1000;
    }
    var inWrapUp = agent.logged_in && agent.wrap_up_remaining_seconds !== null && agent.wrap_up_remaining_seconds !== undefined;
    wrapUpEnds = inWrapUp ? Date.now() + agent.wrap_up_remaining_seconds * 1000 : null;
    $("wrapup").classList.toggle("hidden", !inWrapUp);
    fillPicklist();
    announce(agent);
    tick();
  }

  function tick() {
    $("current-timer").textContent = PC.duration((Date.now() - stateSince) / 1000);
    if (wrapUpEnds !== null) {
      var left = Math.max(0, Math.ceil((wrapUpEnds - Date.now()) / 1000));
      $("wrapup-countdown").textContent = String(left);
      // the server ends wrap-up on its own; ask again if its event is late
      if (left === 0 && Date.now() - wrapUpEnds > 1500 && Date.now() - settleAsked > 3000) {
        settleAsked = Date.now();
        refresh();
      }
    }
  }

  //: where an action's error is shown: next to its control
  var ERROR_NEXT_TO = { "/presence": ["state-error", "state"], "/dial": ["dial-error", "dial-number"],
                        "/logout": ["logout-error", null] };

  function failed(path) {
    return function (err) {
      var spot = ERROR_NEXT_TO[path];
      if (err.status === 0) { setConnection("lost", 1); showMessage("The server cannot be reached; your change was not made."); }
      else if (spot) showFieldError(spot[0], err.message, spot[1] ? $(spot[1]) : null);
      else showMessage(err.message);
      if (view) fillPicklist();  // put the picklist back to the real state
    };
  }

  function act(method, path, body) {
    showMessage("");
    clearFieldErrors();
    return PC.api(method, base + path, body).then(render, failed(path));
  }

  function refresh() {
    return PC.api("GET", base + "/presence").then(render, function (err) { if (err.status) showMessage(err.message); });
  }

  function loadStates() {
    return PC.api("GET", "/api/v1/presence-states").then(function (data) {
      states = data.states;
      heartbeatSeconds = (data.options && data.options.heartbeat_interval_seconds) || 30;
      fillPicklist();
    });
  }

  // -- actions ---------------------------------------------------------------------------------
  $("login").addEventListener("click", function () {
    act("POST", "/login", { device: embedded ? "Salesforce console" : "Softphone" });
  });
  $("logout").addEventListener("click", function () { act("POST", "/logout", {}); });
  $("state").addEventListener("change", function (ev) { act("PUT", "/presence", { state: ev.target.value }); });
  $("wrapup-extend").addEventListener("click", function () { act("POST", "/wrap-up/extend", {}); });
  $("wrapup-end").addEventListener("click", function () { act("POST", "/wrap-up/end", {}); });
  function dial(number) {
    number = String(number || "").trim();
    if (!number) return;
    showMessage("");
    clearFieldErrors();
    // the answer says what really happened: sent to which PBX adapter, or not sent and why
    return PC.api("POST", base + "/dial", { number: number }).then(function (data) {
      render(data);
      var result = data && data.dial;
      if ($("message").textContent || $("dial-error").textContent) return;
      if (!result) showMessage("Dialling " + number + "…", "info");
      else if (result.sent) showMessage("Dialling " + result.number + " (" + result.message + ")…", "info");
      else showFieldError("dial-error", "Not dialled: " + result.message.replace(/^not sent: /, ""), $("dial-number"));
    }, failed("/dial"));
  }
  $("dial-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    dial($("dial-number").value);
  });

  function heartbeat() {
    if (view && view.logged_in) {
      PC.api("POST", base + "/heartbeat", {}).then(null, function (err) {
        if (err.status === 0) setConnection("lost", 1);
        else if (err.code === "not_logged_in") refresh();
      });
    }
    setTimeout(heartbeat, heartbeatSeconds * 1000);
  }

  // -- live updates ----------------------------------------------------------------------------
  var stream = new PC.LiveStream("/api/v1/events", {
    snapshot: function (data) {
      var mine = (data.agents || []).filter(function (a) { return a.id === agentId; })[0];
      if (mine) render(mine);
      loadStates();  // a reconnect also picks up a configuration changed meanwhile
    },
    agent: function (data) { if (data.id === agentId) render(data); },
    resync: function () { refresh(); },
    config: function () { loadStates(); },
    logon: function (data) {
      if (data.agent_id !== agentId || data.action !== "Released") return;
      var why = FORCED_LOGOUT[data.logon_source];
      if (why) showMessage("You are logged out: " + why + ".");
    },
    session_ended: function (data) {
      if (data.agent_id !== agentId) return;
      var why = "Your session on " + (data.device || "this device") + " ended: " +
        (data.reason || "ended by the server") + ".";
      showMessage(why);
    },
    omni_channel: function (data) { if (data.agent_id === agentId) publishToOmni(data); },
    call: function (data) { if (data.agent_id === agentId && data.caller_number) screenPop(data.caller_number); }
  }, setConnection);

  // -- Salesforce console (Open CTI) -------------------------------------------------------------
  function publishToOmni(data) {
    if (!embedded || !window.sforce || !sforce.opencti || !sforce.opencti.publish) return;
    sforce.opencti.publish({ channelName: OMNI_CHANNEL, message: data });
  }

  // what the Omni-Channel component reports on the message channel -> the connector's report endpoint
  function omniReport(kind, message) {
    if (kind === "omniChannelStatusChanged") {
      return { event: "statusChanged", developer_name: message.developer_name || message.developerName || null,
               service_presence_status_id: message.service_presence_status_id || message.statusId || null };
    }
    if (kind === "omniChannelLogout") return { event: "logout" };
    if (kind === "omniChannelAck" && message.command_id) {
      var ack = { event: "ack", command_id: message.command_id, ok: message.ok === true || message.ok === "true" };
      if (!ack.ok) { ack.error = message.error || "failed"; ack.error_code = message.error_code || null; }
      return ack;
    }
    if (kind === "omniChannelWorkAccepted" && message.work_item_id) {
      return { event: "workAccepted", work_item_id: message.work_item_id, work_id: message.work_id || null };
    }
    return null;
  }

  function fromOmni(message) {
    if (!message || message.action) return;  // our own messages carry 'action'
    var report = omniReport(message.type || message.event, message);
    if (!report) return;
    PC.api("POST", base + "/omni-channel", report).then(function (agent) { if (agent && agent.id === agentId) render(agent); }, function (err) {
      if (err.status !== 404) showMessage("Omni-Channel: " + err.message);  // 404: the bridge is not installed
    });
  }

  // the console's panel fits the content, within Open CTI's 240-2560 px; re-fit whenever the content changes
  var panelHeight = 0;
  function fitPanel() {
    if (!embedded || !sforce.opencti.setSoftphonePanelHeight) return;
    var wanted = Math.ceil(root.getBoundingClientRect().height) + 16;
    var height = Math.max(PANEL_MIN, Math.min(PANEL_MAX, wanted));
    if (height === panelHeight) return;
    panelHeight = height;
    sforce.opencti.setSoftphonePanelHeight({ heightPX: height });
  }

  function screenPop(number) {
    showMessage("Incoming call from " + number, "info");
    if (!embedded || !sforce.opencti.searchAndScreenPop) return;
    sforce.opencti.searchAndScreenPop({
      searchParams: number, queryParams: "", deferred: false,
      callType: sforce.opencti.CALL_TYPE ? sforce.opencti.CALL_TYPE.INBOUND : "inbound",
      callback: function (result) {
        if (result && result.success === false) showMessage("No screen pop for " + number + ": " + describe(result));
      }
    });
  }

  function describe(result) {
    var errors = (result && result.errors) || [];
    return errors.map(function (e) { return e.description || e.message || String(e); }).join("; ") || "unknown error";
  }

  function enableClickToDial() {
    if (!sforce.opencti.enableClickToDial || !sforce.opencti.onClickToDial) return;
    sforce.opencti.onClickToDial({ listener: function (payload) {
      if (!view || !view.logged_in) { showMessage("Log in to dial " + (payload && payload.number || "") + "."); return; }
      // Salesforce passes the number as displayed ("(415) 555-0100"): dial its dial characters only
      dial(String(payload && payload.number || "").replace(/[\s().\-\/]/g, ""));
    } });
    sforce.opencti.enableClickToDial({ callback: function (result) {
      if (result && result.success === false) showMessage("Click-to-dial is not available: " + describe(result));
    } });
  }

  function joinConsole() {
    if (!sfOrigin) { $("mode").textContent = "Standalone"; return; }
    $("mode").textContent = "Salesforce console…";
    var script = PC.el("script", { src: sfOrigin + "/support/api/" + root.getAttribute("data-opencti-version") +
                                        "/lightning/opencti_min.js" });
    script.addEventListener("load", function () {
      if (!window.sforce || !sforce.opencti) { $("mode").textContent = "Standalone"; return; }
      embedded = true;
      $("mode").textContent = "Salesforce console";
      if (sforce.opencti.subscribe) {
        sforce.opencti.subscribe({ channelName: OMNI_CHANNEL, listener: fromOmni });
      }
      enableClickToDial();
      fitPanel();
      if (window.ResizeObserver) new ResizeObserver(fitPanel).observe(root);
    });
    script.addEventListener("error", function () {
      $("mode").textContent = "Standalone";
      showMessage("The Salesforce console library could not be loaded; presence still works here.", "info");
    });
    document.head.appendChild(script);
  }

  setInterval(tick, 250);
  loadStates().then(refresh).then(function () {
    stream.start();
    setTimeout(heartbeat, heartbeatSeconds * 1000);
    joinConsole();
  }, function (err) { showMessage(err.message); stream.start(); });
})();
