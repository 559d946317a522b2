/* The agent's softphone: the state picker (an SLDS select-only combobox), timer, wrap-up countdown, the
   state picked for after a call (with Cancel), dial, login/logout, and inside the Salesforce console (Open CTI):
   click-to-dial, screen pop of inbound callers, a panel height that fits the content (240-2560 px), and the
   relay to the Omni-Channel component. */
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
  var pbxMode = "none";     // "none": nothing is dialled, so there is no Dial
  var messageKind = "";     // "unreachable": cleared once the server answers again

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

  /** kind: "info" (news), "unreachable" (cleared once connected again), else an error. */
  function showMessage(text, kind) {
    var box = $("message");
    messageKind = text ? kind || "error" : "";
    box.textContent = text || "";
    box.className = "pc-message" + (kind === "info" ? " info" : "") + (text ? "" : " hidden");
  }

  var UNREACHABLE = "The presence server cannot be reached, so {what}. It reconnects by itself: " +
    "try again when it says Connected.";

  /** What went wrong, said to the agent (the server's wording is for integrators). */
  function inAgentWords(err, what) {
    if (err.status === 0) return UNREACHABLE.replace("{what}", what);
    if (err.code === "not_logged_in") return "You are not logged in to presence: log in first.";
    if (err.code === "not_in_wrap_up") return "Wrap-up has already ended.";
    if (err.code === "state_not_selectable") return "That state is set by the system; pick another one.";
    if (err.field === "number") return "That is not a phone number: use up to 32 digits, * # and +.";
    if (err.status === 401) return "Your sign-in has ended: reload the page to sign in again.";
    if (err.status === 403 && !err.field) return "You are not allowed to do that here.";
    if (err.status >= 500) return "Something went wrong on the server, so " + what + ". Try again.";
    return err.message;
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

  /** Tell screen readers about a new state (or a new next state) once (the banner's timer ticks silently). */
  function announce(agent) {
    var text = !agent.logged_in ? "Logged out" : agent.state ? "Now " + agent.state.display : "";
    if (agent.logged_in && agent.wrap_up_remaining_seconds !== null && agent.wrap_up_remaining_seconds !== undefined) {
      text += ", wrap-up " + agent.wrap_up_remaining_seconds + " seconds";
    }
    var next = agent.logged_in && agent.next_state;
    if (next) text += ", next " + next.label + " " + (agent.on_call ? "after this call" : "after wrap-up");
    var key = agent.logged_in + "|" + (agent.state ? agent.state.id : "") + "|" + (agent.state_since || "") +
      "|" + (next ? next.id : "");
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
    if (connected && messageKind === "unreachable") showMessage("");  // the old "cannot be reached" is over
  }

  // -- the state picker: an SLDS select-only combobox ----------------------------------------------
  // Arrow keys, Home and End move the highlight; only Enter or a click commits (a highlight is not a change
  // of state: with a native <select>, each ArrowDown was one). Escape and Tab close it unchanged.
  var picker = { open: false, options: [], highlight: -1 };

  function dot(node, colour) { node.style.background = colour || ""; }

  function picked() {  // the option shown as chosen: the state picked for after the call, else the current one
    if (!view || !view.logged_in) return null;
    return (view.next_state && view.next_state.id) || (view.state && view.state.id);
  }

  function fillPicklist() {
    var list = $("state-options");
    var current = view && view.state;
    var chosen = picked();
    var highlighted = picker.options[picker.highlight];
    picker.options = states.filter(function (st) { return st.selectable; });
    list.textContent = "";
    picker.options.forEach(function (st, i) {
      var swatch = PC.el("span", { class: "pc-dot", "aria-hidden": "true" });
      dot(swatch, st.colour);
      var check = PC.el("span", { class: "pc-check" + (st.id === chosen ? " pc-icon pc-icon_check" : ""), "aria-hidden": "true" });
      var option = PC.el("div", {
        id: "state-option-" + i, role: "option", "data-value": st.id,
        class: "slds-media slds-listbox__option slds-listbox__option_plain slds-media_small",
        "aria-selected": st.id === chosen ? "true" : "false"
      }, [check, swatch, PC.el("span", { class: "slds-truncate", text: st.display })]);
      option.addEventListener("click", function () { commit(i); });
      list.appendChild(PC.el("li", { role: "presentation", class: "slds-listbox__item" }, [option]));
    });
    var keep = highlighted ? picker.options.map(function (st) { return st.id; }).indexOf(highlighted.id) : -1;
    highlight(keep >= 0 ? keep : picker.open ? chosenIndex() : -1);
    $("state-value").textContent = current ? current.display : "";
    dot($("state-dot"), current ? current.colour : "");
  }

  function chosenIndex() {
    var chosen = picked();
    var i = picker.options.map(function (st) { return st.id; }).indexOf(chosen);
    return i >= 0 ? i : 0;
  }

  function highlight(i) {
    picker.highlight = i;
    var box = $("state");
    Array.prototype.forEach.call($("state-options").querySelectorAll("[role=option]"), function (node, n) {
      node.classList.toggle("slds-has-focus", n === i);
    });
    if (picker.open && i >= 0) {
      box.setAttribute("aria-activedescendant", "state-option-" + i);
      var node = $("state-option-" + i);
      if (node && node.scrollIntoView) node.scrollIntoView({ block: "nearest" });
    } else {
      box.removeAttribute("aria-activedescendant");
    }
  }

  function openPicker() {
    if (picker.open || !picker.options.length) return;
    picker.open = true;
    $("state-combobox").classList.add("slds-is-open");
    $("state").setAttribute("aria-expanded", "true");
    highlight(chosenIndex());
    fitPanel();
  }

  function closePicker() {
    if (!picker.open) return;
    picker.open = false;
    $("state-combobox").classList.remove("slds-is-open");
    $("state").setAttribute("aria-expanded", "false");
    highlight(-1);
    fitPanel();
  }

  function commit(i) {
    var st = picker.options[i];
    closePicker();
    if (!st || st.id === picked()) return;  // already so: nothing to change
    act("PUT", "/presence", { state: st.id });
  }

  function typeAhead(key) {
    var letter = key.toLowerCase(), n = picker.options.length;
    for (var step = 1; step <= n; step++) {
      var i = (picker.highlight + step) % n;
      if (picker.options[i].display.toLowerCase().charAt(0) === letter) return i;
    }
    return -1;
  }

  $("state").addEventListener("keydown", function (ev) {
    var key = ev.key, last = picker.options.length - 1;
    if (ev.ctrlKey || ev.metaKey) return;
    if (!picker.open) {
      if (key === "ArrowDown" || key === "ArrowUp" || key === "Enter" || key === " " || key === "Home" || key === "End") {
        ev.preventDefault();
        openPicker();
        if (key === "Home") highlight(0);
        if (key === "End") highlight(last);
      } else if (key.length === 1 && /\S/.test(key)) {
        openPicker();
        var found = typeAhead(key);
        if (found >= 0) highlight(found);
      }
      return;
    }
    if (key === "ArrowDown") { ev.preventDefault(); highlight(Math.min(last, picker.highlight + 1)); }
    else if (key === "ArrowUp") { ev.preventDefault(); highlight(Math.max(0, picker.highlight - 1)); }
    else if (key === "Home" || key === "PageUp") { ev.preventDefault(); highlight(0); }
    else if (key === "End" || key === "PageDown") { ev.preventDefault(); highlight(last); }
    else if (key === "Enter") { ev.preventDefault(); commit(picker.highlight); }
    else if (key === "Escape") { ev.preventDefault(); closePicker(); }
    else if (key === "Tab") { closePicker(); }
    else if (key === " ") { ev.preventDefault(); }  // not a commit: only Enter or a click
    else if (key.length === 1 && /\S/.test(key)) {
      var match = typeAhead(key);
      if (match >= 0) highlight(match);
    }
  });
  $("state").addEventListener("click", function () { if (picker.open) closePicker(); else openPicker(); });
  $("state").addEventListener("blur", closePicker);
  $("state-label").addEventListener("click", function () { $("state").focus(); });
  // a press in the list (an option, its scroll bar) keeps the focus on the combobox, so the list stays open
  $("state-listbox").addEventListener("mousedown", function (ev) { ev.preventDefault(); });

  /** The hint under the picker says when a pick takes effect. */
  function pickerHint(agent) {
    var text = "";
    if (agent.logged_in && agent.on_call) text = "You are on a call: the state you pick starts after the call.";
    else if (agent.logged_in && inWrapUp(agent)) text = "Picking a state ends wrap-up now.";
    $("state-hint").textContent = text;
    $("state-hint").classList.toggle("hidden", !text);
  }

  function inWrapUp(agent) {
    return agent.logged_in && agent.wrap_up_remaining_seconds !== null && agent.wrap_up_remaining_seconds !== undefined;
  }

  /** "Next: Lunch — after this call" with Cancel, and the wrap-up panel's "..., then Lunch". */
  function renderNext(agent) {
    var next = agent.logged_in ? agent.next_state : null;
    $("next").classList.toggle("hidden", !next);
    $("wrapup-then").classList.toggle("hidden", !next);
    if (!next) return;
    $("next-label").textContent = next.label;
    $("next-when").textContent = agent.on_call ? "after this call" : "after wrap-up";
    dot($("next-dot"), next.colour);
    $("wrapup-then-label").textContent = next.label;
  }

  function render(agent) {
    view = agent;
    $("agent-name").textContent = agent.name || agent.id;
    var box = $("current");
    $("logged-in-panel").classList.toggle("hidden", !agent.logged_in);
    $("logged-out-panel").classList.toggle("hidden", agent.logged_in);
    if (agent.logged_in && agent.state) {
      box.className = "pc-current";
      box.style.borderLeftColor = agent.state.colour;  // the text stays dark on white: it reads on every colour
      dot($("current-dot"), agent.state.colour);
      $("current-label").textContent = agent.state.display;
    } else {
      box.className = "pc-current offline";
      box.style.borderLeftColor = "";
      dot($("current-dot"), "");
      $("current-label").textContent = "Logged out";
      closePicker();
    }
    stateSince = Date.now() - (agent.seconds_in_state || 0) * 1000;
    wrapUpEnds = inWrapUp(agent) ? Date.now() + agent.wrap_up_remaining_seconds * 1000 : null;
    $("wrapup").classList.toggle("hidden", !inWrapUp(agent));
    renderNext(agent);
    pickerHint(agent);
    fillPicklist();
    announce(agent);
    tick();
  }

  /** Dial only when something would be dialled: PBX mode none sends nothing to a PBX. */
  function showDial() {
    $("dial-form").classList.toggle("hidden", pbxMode !== "dial");
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
  //: what did not happen when an action failed, in the agent's words
  var NOT_DONE = { "/presence": "your state was not changed", "/dial": "nothing was dialled",
                   "/logout": "you are still logged in", "/login": "you are not logged in yet",
                   "/next-state": "the next state was not cancelled", "/wrap-up/extend": "wrap-up was not extended",
                   "/wrap-up/end": "wrap-up was not ended" };

  function failed(path) {
    return function (err) {
      var spot = ERROR_NEXT_TO[path];
      var text = inAgentWords(err, NOT_DONE[path] || "nothing was changed");
      if (err.status === 0) { setConnection("lost", 1); showMessage(text, "unreachable"); }
      else if (spot) showFieldError(spot[0], text, spot[1] ? $(spot[1]) : null);
      else showMessage(text);
      if (view) fillPicklist();  // the picker shows the real state again
    };
  }

  function act(method, path, body) {
    showMessage("");
    clearFieldErrors();
    return PC.api(method, base + path, body).then(render, failed(path));
  }

  function refresh() {
    return PC.api("GET", base + "/presence").then(render, function (err) {
      if (err.status) showMessage(inAgentWords(err, "your presence could not be read"));
    });
  }

  function loadStates() {
    return PC.api("GET", "/api/v1/presence-states").then(function (data) {
      states = data.states;
      heartbeatSeconds = (data.options && data.options.heartbeat_interval_seconds) || 30;
      pbxMode = (data.options && data.options.pbx_mode) || "none";
      showDial();
      fillPicklist();
    });
  }

  // -- actions ---------------------------------------------------------------------------------
  $("login").addEventListener("click", function () {
    act("POST", "/login", { device: embedded ? "Salesforce console" : "Softphone" });
  });
  $("logout").addEventListener("click", function () { act("POST", "/logout", {}); });
  $("next-cancel").addEventListener("click", function () { act("DELETE", "/next-state", {}); });
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
      if (!result || result.sent) { showMessage("Dialling " + ((result && result.number) || number) + "…", "info"); return; }
      // nothing dialled it: say why, and what the agent can do
      var why = pbxMode !== "dial"
        ? "this softphone tracks your time only and does not dial. Dial " + result.number + " on your phone."
        : "no phone system is connected to this softphone. Ask your administrator to turn one on.";
      if ($("dial-form").classList.contains("hidden")) showMessage("Not dialled: " + why, "info");
      else showFieldError("dial-error", "Not dialled: " + why, $("dial-number"));
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
    var bottom = root.getBoundingClientRect().height;
    if (picker.open) bottom = Math.max(bottom, $("state-listbox").getBoundingClientRect().bottom - root.getBoundingClientRect().top);
    var wanted = Math.ceil(bottom) + 16;
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
  }, function (err) { showMessage(inAgentWords(err, "your presence could not be read"), err.status === 0 ? "unreachable" : ""); stream.start(); });
})();
