/* The supervisors' dashboard: live agent grid (one event stream), charts, logon events. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;
  var today = $("dashboard").getAttribute("data-today");

  var agents = {};       // id -> agent view, with _since (client time the state started)
  var states = [];       // active configuration's states
  var todayTime = {};    // agent id -> {state_id: seconds} at _fetchedAt
  var todayFetchedAt = Date.now();
  var calls = {};        // agent id -> calls answered today
  var sortKey = "name", sortDir = 1;
  var refreshTimer = null;

  function stateById(id) { return states.filter(function (s) { return s.id === id; })[0]; }

  function showError(id, text) {
    var box = $(id);
    box.textContent = text || "";
    box.classList.toggle("hidden", !text);
  }

  function setConnection(state, retry) {
    var line = $("connection");
    line.className = "status-line " + state;
    line.textContent = state === "ok" ? "Live" : state === "lost"
      ? "Connection lost — retrying in " + retry + " s" : "Connecting…";
  }

  function remember(agent) {
    if (typeof agent.state === "string") {  // the grid snapshot names the state by id
      agent.state = stateById(agent.state) || { id: agent.state, display: agent.state, colour: "#9aa5b1" };
    }
    agent._since = Date.now() - (agent.seconds_in_state || 0) * 1000;
    agents[agent.id] = agent;
  }

  function inState(agent) { return agent.logged_in ? (Date.now() - agent._since) / 1000 : 0; }

  /** "red", "amber" or "" from the admin's alert_after_seconds of the agent's state. */
  function alertLevel(agent) {
    var limits = agent.logged_in && agent.state && agent.state.alert_after_seconds;
    if (!limits || !limits.length) return "";
    var secs = inState(agent);
    if (limits.length > 1 && secs >= limits[1]) return "red";
    return secs >= limits[0] ? "amber" : "";
  }

  function inStateCell(cell, agent) {
    var level = alertLevel(agent);
    cell.textContent = agent.logged_in ? PC.duration(inState(agent)) : "—";
    if (level) {
      var limits = agent.state.alert_after_seconds;
      cell.appendChild(el("span", { class: "over " + level,
        text: " over " + PC.shortDuration(level === "red" ? limits[1] : limits[0]) }));
    }
    var row = cell.parentNode;
    if (row) { row.classList.toggle("alert-amber", level === "amber"); row.classList.toggle("alert-red", level === "red"); }
    return level;
  }

  function countOver() {
    var over = visible().filter(alertLevel).length;  // of the agents shown (team and state filters)
    var box = $("over-count");
    box.textContent = over + " over threshold";
    box.setAttribute("data-count", String(over));
    box.classList.toggle("some", over > 0);
  }

  // -- the grid --------------------------------------------------------------------------------
  function sortValue(agent) {
    switch (sortKey) {
      case "team": return (agent.team || "").toLowerCase();
      case "state": return agent.logged_in && agent.state ? agent.state.display.toLowerCase() : "~";
      case "in_state": return inState(agent);
      case "calls": return calls[agent.id] || 0;
      default: return (agent.name || agent.id).toLowerCase();
    }
  }

  function visible() {
    var team = $("filter-team").value, state = $("filter-state").value;
    return Object.keys(agents).map(function (id) { return agents[id]; }).filter(function (a) {
      if (team && a.team !== team) return false;
      if (state === "__out") return !a.logged_in;
      if (state) return a.logged_in && a.state && a.state.id === state;
      return true;
    }).sort(function (a, b) {
      var x = sortValue(a), y = sortValue(b);
      return (x < y ? -1 : x > y ? 1 : 0) * sortDir || (a.name < b.name ? -1 : 1);
    });
  }

  function timeBar(agent) {
    var parts = todayTime[agent.id] || {};
    var extra = agent.logged_in && agent.state ? Math.max(0, (Date.now() - todayFetchedAt) / 1000) : 0;
    var total = 0, bar = el("div", { class: "time-bar", role: "img" }), labels = [];
    var keys = Object.keys(parts);
    if (extra && agent.state && keys.indexOf(agent.state.id) < 0) keys.push(agent.state.id);
    var secondsOf = function (k) { return (parts[k] || 0) + (agent.state && k === agent.state.id ? extra : 0); };
    keys.forEach(function (k) { total += secondsOf(k); });
    keys.forEach(function (k) {
      var st = stateById(k), secs = secondsOf(k);
      if (secs <= 0) return;
      var seg = el("span", { title: (st ? st.label : k) + ": " + PC.shortDuration(secs) });
      seg.style.width = (100 * secs / Math.max(total, 1)).toFixed(2) + "%";
      seg.style.background = st ? st.colour : "#9aa5b1";
      bar.appendChild(seg);
      labels.push((st ? st.label : k) + " " + PC.shortDuration(secs));
    });
    bar.setAttribute("aria-label", labels.join(", ") || "no time today");
    return el("div", {}, [bar, el("span", { class: "muted", text: total ? PC.shortDuration(total) + " tracked" : "—" })]);
  }

  function actions(agent) {
    if (!agent.logged_in) return el("span", { class: "muted", text: "—" });
    var select = el("select", { "aria-label": "New state for " + agent.name, "data-control": "state" });
    var pickable = states.filter(function (s) { return s.selectable; });
    var current = agent.state && pickable.some(function (s) { return s.id === agent.state.id; });
    if (!current) {  // e.g. On a call: say where the agent is, and make the supervisor pick a state
      select.appendChild(el("option", { value: "", text: (agent.state ? agent.state.display : "—") + ": choose…",
                                        disabled: true }));
    }
    pickable.forEach(function (s) { select.appendChild(el("option", { value: s.id, text: s.display })); });
    select.value = current ? agent.state.id : "";
    var change = el("button", { type: "button", text: "Set", "data-control": "set", disabled: !select.value, onclick: function () {
      if (!select.value) return;  // never {"state": ""}
      PC.api("PUT", "/api/v1/agents/" + encodeURIComponent(agent.id) + "/presence", { state: select.value })
        .then(function (v) { remember(v); render(); showError("grid-message", ""); },
              function (err) { showError("grid-message", agent.name + ": " + err.message); });
    } });
    var logout = el("button", { type: "button", class: "danger", text: "Log out", "data-control": "logout", onclick: function () {
      if (!window.confirm("Log " + agent.name + " out?")) return;
      PC.api("POST", "/api/v1/agents/" + encodeURIComponent(agent.id) + "/logout", {})
        .then(function (v) { remember(v); render(); showError("grid-message", ""); },
              function (err) { showError("grid-message", agent.name + ": " + err.message); });
    } });
    select.addEventListener("change", function () { change.disabled = !select.value; });
    return el("div", { class: "actions" }, [select, change, logout]);
  }

  function stateCell(agent) {
    if (!agent.logged_in || !agent.state) return el("span", { class: "badge" }, [PC.swatch("#9aa5b1"), "Logged out"]);
    var badge = el("span", { class: "badge state-badge" }, [PC.swatch(agent.state.colour), agent.state.display]);
    if (agent.connection_lost) badge.appendChild(el("span", { class: "error", text: " · connection lost" }));
    return badge;
  }

  function render() {
    var body = $("agents").querySelector("tbody");
    // keep a keyboard user's place: the focused control (and a half-chosen state) survive a redraw
    var active = document.activeElement, keep = null;
    if (active && body.contains(active) && active.getAttribute("data-control")) {
      var row = active.closest("tr");
      keep = { agent: row.getAttribute("data-agent"), control: active.getAttribute("data-control"), value: active.value };
    }
    body.textContent = "";
    var list = visible();
    list.forEach(function (a) {
      body.appendChild(el("tr", { class: "agent-row" + (a.connection_lost ? " lost" : ""), "data-agent": a.id }, [
        el("td", {}, [el("strong", { text: a.name }), el("div", { class: "muted", text: a.id })]),
        el("td", { text: a.team || "—" }),
        el("td", { class: "state-cell" }, [stateCell(a)]),
        el("td", { class: "num in-state" }),
        el("td", { class: "col-today" }, [timeBar(a)]),
        el("td", { class: "num calls", text: String(calls[a.id] || 0) }),
        el("td", {}, [actions(a)])
      ]));
    });
    body.querySelectorAll("tr.agent-row").forEach(function (row) {
      inStateCell(row.querySelector(".in-state"), agents[row.getAttribute("data-agent")]);
    });
    countOver();
    if (!list.length) body.appendChild(el("tr", {}, [el("td", { colspan: 7, class: "muted", text: "No agents match." })]));
    if (keep) {
      var again = body.querySelector('tr[data-agent="' + CSS.escape(keep.agent) + '"] [data-control="' + keep.control + '"]');
      if (again) {
        if (keep.control === "state" && keep.value) { again.value = keep.value; again.dispatchEvent(new Event("change")); }
        again.focus();
      }
    }
    var on = Object.keys(agents).filter(function (id) { return agents[id].logged_in; }).length;
    $("summary").textContent = list.length + " shown · " + on + " of " + Object.keys(agents).length + " logged in";
  }

  function tick() {
    document.querySelectorAll("#agents tr.agent-row").forEach(function (row) {
      var a = agents[row.getAttribute("data-agent")];
      if (a && a.logged_in) inStateCell(row.querySelector(".in-state"), a);
    });
    countOver();
  }

  function fillFilters() {
    var teamSel = $("filter-team"), teams = {};
    Object.keys(agents).forEach(function (id) { if (agents[id].team) teams[agents[id].team] = true; });
    var keepTeam = teamSel.value;
    while (teamSel.options.length > 1) teamSel.remove(1);
    Object.keys(teams).sort().forEach(function (t) { teamSel.appendChild(el("option", { value: t, text: t })); });
    teamSel.value = keepTeam;
    var stateSel = $("filter-state"), keepState = stateSel.value;
    while (stateSel.options.length > 2) stateSel.remove(2);
    states.forEach(function (s) { stateSel.appendChild(el("option", { value: s.id, text: s.display })); });
    stateSel.value = keepState;
  }

  function loadToday() {
    return Promise.all([
      PC.api("GET", "/api/v1/time-tracking?from=" + today + "&to=" + today),
      PC.api("GET", "/api/v1/counters?date=" + today)
    ]).then(function (res) {
      todayTime = {};
      res[0].rows.forEach(function (r) {
        (todayTime[r.agent_id] = todayTime[r.agent_id] || {})[r.state_id] = r.seconds;
      });
      todayFetchedAt = Date.now();
      calls = {};
      Object.keys(res[1].counters).forEach(function (id) {
        var c = res[1].counters[id];
        calls[id] = (c.calls_inbound_answered || 0) + (c.calls_outbound_answered || 0) + (c.calls_internal_answered || 0);
      });
      render();
    }, function (err) { if (err.status) showError("grid-message", err.message); });
  }

  function soon() {  // refresh today's totals shortly after a burst of changes
    if (refreshTimer) clearTimeout(refreshTimer);
    refreshTimer = setTimeout(loadToday, 1500);
  }

  function loadStates() {
    return PC.api("GET", "/api/v1/presence-states").then(function (data) { states = data.states; fillFilters(); render(); });
  }

  // -- charts ------------------------------------------------------------------------------------
  function showCharts() {
    var from = $("chart-from").value || today, to = $("chart-to").value || from;
    PC.api("GET", "/api/v1/time-tracking?from=" + from + "&to=" + to).then(function (data) {
      showError("chart-message", "");
      var colours = {}, names = {}, order = [];
      states.forEach(function (s) { colours[s.id] = s.colour; names[s.id] = s.label; order.push(s.id); });
      var perAgent = {};
      data.rows.forEach(function (r) {
        if (order.indexOf(r.state_id) < 0) { order.push(r.state_id); names[r.state_id] = r.state_label; }
        var a = perAgent[r.agent_id] = perAgent[r.agent_id] || { label: r.agent_name, parts: {} };
        a.parts[r.state_id] = (a.parts[r.state_id] || 0) + r.seconds;
      });
      var rows = Object.keys(perAgent).sort().map(function (k) {
        return { label: perAgent[k].label, parts: Object.keys(perAgent[k].parts).map(function (s) { return { key: s, seconds: perAgent[k].parts[s] }; }) };
      });
      $("chart-agents").replaceChildren(PCCharts.stackedBars(rows, order, colours, names));
      var seen = {};
      data.rows.forEach(function (r) { seen[r.state_id] = true; });
      PCCharts.legend($("chart-legend"), order.filter(function (k) { return seen[k]; }), colours, names);
      var team = $("filter-team").value;
      $("mix-title").textContent = "State mix over the day · " + (team || "all teams") + " · " + to;
      return PC.api("GET", "/api/v1/state-mix?date=" + to + (team ? "&team=" + encodeURIComponent(team) : ""))
        .then(function (mix) { $("chart-teams").replaceChildren(PCCharts.hourlyMix(mix.hours, order, colours, names)); });
    }, function (err) { showError("chart-message", err.message); });
  }

  // -- logon events --------------------------------------------------------------------------------
  function logonQuery() {
    var params = new URLSearchParams();
    params.set("from", $("logon-from").value || today);
    params.set("to", $("logon-to").value || today);
    ["include", "exclude"].forEach(function (name) {
      $("logon-" + name).querySelectorAll("input:checked").forEach(function (box) { params.append(name, box.value); });
    });
    return params;
  }

  function showLogonEvents(ev) {
    if (ev) ev.preventDefault();
    var params = logonQuery();
    var csv = new URLSearchParams(params); csv.set("format", "csv");
    $("logon-export").setAttribute("href", "/api/v1/logon-events?" + csv.toString());
    var page = new URLSearchParams(params); page.set("order", "desc");  // newest first, one page
    PC.api("GET", "/api/v1/logon-events?" + page.toString()).then(function (data) {
      showError("logon-message", "");
      var body = $("logon-events").querySelector("tbody");
      body.textContent = "";
      data.events.forEach(function (e) {
        body.appendChild(el("tr", {}, [
          el("td", { text: new Date(e.at).toLocaleString() }), el("td", { text: e.agent_name + " (" + e.agent_id + ")" }),
          el("td", { text: e.action }), el("td", { text: e.logon_source }), el("td", { text: e.device }),
          el("td", { text: e.actor || "" })
        ]));
      });
      if (!data.events.length) body.appendChild(el("tr", {}, [el("td", { colspan: 6, class: "muted", text: "No logon events match." })]));
      if (data.next) body.appendChild(el("tr", {}, [el("td", { colspan: 6, class: "muted",
        text: "Showing the newest " + data.events.length + " events; export CSV for all of them." })]));
    }, function (err) { showError("logon-message", err.message); });
  }

  // -- wiring --------------------------------------------------------------------------------------
  document.querySelectorAll("#agents th[data-sort] button").forEach(function (button) {
    button.addEventListener("click", function () {
      var key = button.parentNode.getAttribute("data-sort");
      sortDir = key === sortKey ? -sortDir : 1;
      sortKey = key;
      document.querySelectorAll("#agents th[data-sort]").forEach(function (th) { th.removeAttribute("aria-sort"); });
      button.parentNode.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      render();
    });
  });
  $("filter-team").addEventListener("change", function () { render(); showCharts(); });
  $("filter-state").addEventListener("change", render);
  $("chart-show").addEventListener("click", showCharts);
  $("logon-form").addEventListener("submit", showLogonEvents);
  ["include", "exclude"].forEach(function (name) {  // the summary says what is ticked
    var picker = $("logon-" + name), shown = picker.querySelector(".picked");
    picker.addEventListener("change", function () {
      var ticked = Array.prototype.map.call(picker.querySelectorAll("input:checked"), function (b) { return b.value; });
      shown.textContent = ticked.length ? ticked.join(", ") : shown.getAttribute("data-none");
    });
  });

  var stream = new PC.LiveStream("/api/v1/events?view=grid", {
    snapshot: function (data) {
      agents = {};
      data.agents.forEach(remember);
      fillFilters(); render(); loadToday();
    },
    agent: function (agent) { remember(agent); fillFilters(); render(); soon(); },
    logon: function () { if (!$("logon-events").querySelector("tbody").children.length) return; showLogonEvents(); },
    config: function () { loadStates(); },
    resync: function () { stream.stop(); stream.start(); }
  }, setConnection);

  setInterval(tick, 1000);
  setInterval(loadToday, 60000);
  loadStates().then(function () { stream.start(); showCharts(); showLogonEvents(); },
                    function (err) { showError("grid-message", err.message); stream.start(); });
})();
