/* The supervisors' dashboard: the live agent grid (dashboard_grid.js, one event stream), its filters,
   the charts (they follow the grid's filters) and the logon events. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;
  var today = $("dashboard").getAttribute("data-today");
  var CHART_AGENTS = 40;     // bars in the per-agent chart; the rest are counted under it
  var TODAY_EVERY = 15000;   // at most one refresh of today's totals this often while changes stream in
  var todayTimer = null, todayLoadedAt = 0;
  var chartData = null, chartRange = null, chartTimer = null;

  function showError(id, text) {
    var box = $(id);
    box.textContent = text || "";
    box.classList.toggle("hidden", !text);
  }

  function clockTime(ms) {
    var d = new Date(ms), pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function setConnection(state, retry) {
    var line = $("connection");
    if (state === "lost" && !PCGrid.model.staleAt) PCGrid.setStale(Date.now());
    if (state === "ok" && PCGrid.model.staleAt) PCGrid.setStale(null);
    line.className = "status-line " + state;
    line.textContent = state === "ok" ? "Live" : state === "lost"
      ? "Connection lost · data as of " + clockTime(PCGrid.model.staleAt) + " · retrying in " + retry + " s"
      : PCGrid.model.staleAt ? "Reconnecting · data as of " + clockTime(PCGrid.model.staleAt) : "Connecting…";
  }

  // -- filters ---------------------------------------------------------------------------------------
  function fillFilters() {
    var teamSel = $("filter-team"), keepTeam = teamSel.value, teams = PCGrid.teams();
    var have = Array.prototype.slice.call(teamSel.options, 1).map(function (o) { return o.value; });
    if (have.join("\n") !== teams.join("\n")) {
      while (teamSel.options.length > 1) teamSel.remove(1);
      teams.forEach(function (t) { teamSel.appendChild(el("option", { value: t, text: t })); });
      teamSel.value = keepTeam;
    }
    var stateSel = $("filter-state"), keepState = stateSel.value;
    while (stateSel.options.length > 2) stateSel.remove(2);
    PCGrid.model.states.forEach(function (s) { stateSel.appendChild(el("option", { value: s.id, text: s.display })); });
    stateSel.value = keepState;
  }

  function teamsMaybeChanged(agent) {
    var select = $("filter-team");
    if (agent.team && !Array.prototype.some.call(select.options, function (o) { return o.value === agent.team; })) fillFilters();
  }

  function filtersChanged() {
    if (chartTimer) clearTimeout(chartTimer);
    chartTimer = setTimeout(drawAgentChart, 250);  // the per-agent chart follows the grid's filters
  }

  var searchTimer = null;
  $("filter-search").addEventListener("input", function () {
    if (searchTimer) clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      PCGrid.setFilter("search", $("filter-search").value.trim().toLowerCase());
      filtersChanged();
    }, 120);
  });
  $("filter-team").addEventListener("change", function () {
    PCGrid.setFilter("team", $("filter-team").value);
    filtersChanged();
    showStateMix();
  });
  $("filter-state").addEventListener("change", function () { PCGrid.setFilter("state", $("filter-state").value); filtersChanged(); });
  $("over-count").addEventListener("click", function () {
    var on = $("over-count").getAttribute("aria-pressed") !== "true";
    $("over-count").setAttribute("aria-pressed", String(on));
    PCGrid.setFilter("over", on);
    filtersChanged();
  });
  document.querySelectorAll("#agents th[data-sort] button").forEach(function (button) {
    button.addEventListener("click", function () {
      var th = button.parentNode, key = th.getAttribute("data-sort");
      var first = key === "severity" || key === "calls" ? -1 : 1;  // the most over, the most calls first
      var dir = key === PCGrid.sort.key ? -PCGrid.sort.dir : first;
      document.querySelectorAll("#agents th[data-sort]").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      PCGrid.setSort(key, dir);
    });
  });

  // -- today's totals and counters -----------------------------------------------------------------
  function loadToday() {
    todayTimer = null;
    todayLoadedAt = Date.now();
    return Promise.all([
      PC.api("GET", "/api/v1/time-tracking?from=" + today + "&to=" + today),
      PC.api("GET", "/api/v1/counters?date=" + today)
    ]).then(function (res) { PCGrid.setToday(res[0].rows, res[1].counters); },
            function (err) { if (err.status) showError("grid-message", err.message); });
  }

  function soon() {  // changes keep coming on a busy floor: refresh the totals now and then, not per change
    if (todayTimer) return;
    todayTimer = setTimeout(loadToday, Math.max(1500, TODAY_EVERY - (Date.now() - todayLoadedAt)));
  }

  function loadStates() {
    return PC.api("GET", "/api/v1/presence-states").then(function (data) { PCGrid.setStates(data.states); fillFilters(); });
  }

  // -- charts ------------------------------------------------------------------------------------------
  function chartStyle() {
    var colours = {}, names = {}, order = [];
    PCGrid.model.states.forEach(function (s) { colours[s.id] = s.colour; names[s.id] = s.label; order.push(s.id); });
    (chartData ? chartData.rows : []).forEach(function (r) {
      if (order.indexOf(r.state_id) < 0) { order.push(r.state_id); names[r.state_id] = r.state_label; }
    });
    return { colours: colours, names: names, order: order };
  }

  function scopeText() {
    var f = PCGrid.filters, parts = [];
    if (f.team) parts.push(f.team);
    if (f.state) parts.push(f.state === "__out" ? "logged out" : (PCGrid.stateById(f.state) || { label: f.state }).label);
    if (f.over) parts.push("over threshold");
    if (f.search) parts.push("“" + f.search + "”");
    return parts.length ? parts.join(" · ") : "all agents";
  }

  /** The per-agent chart: the agents the grid shows (its filters), the most time first. */
  function drawAgentChart() {
    chartTimer = null;
    if (!chartData) return;
    var style = chartStyle(), shown = {};
    PCGrid.shown().forEach(function (a) { shown[a.id] = a; });
    var perAgent = {};
    chartData.rows.forEach(function (r) {
      if (!shown[r.agent_id]) return;
      var a = perAgent[r.agent_id] = perAgent[r.agent_id] || { label: r.agent_name, total: 0, parts: {} };
      a.parts[r.state_id] = (a.parts[r.state_id] || 0) + r.seconds;
      a.total += r.seconds;
    });
    var all = Object.keys(perAgent).sort(function (x, y) { return perAgent[y].total - perAgent[x].total || (x < y ? -1 : 1); });
    var rows = all.slice(0, CHART_AGENTS).map(function (k) {
      return { label: perAgent[k].label, parts: Object.keys(perAgent[k].parts).map(function (s) { return { key: s, seconds: perAgent[k].parts[s] }; }) };
    });
    $("chart-agents").replaceChildren(PCCharts.stackedBars(rows, style.order, style.colours, style.names));
    $("agents-chart-title").textContent = "Per agent · " + scopeText() +
      (all.length > CHART_AGENTS ? " · the " + CHART_AGENTS + " of " + all.length + " with the most time" : "");
    $("chart-scope").textContent = chartRange.from === chartRange.to ? chartRange.from : chartRange.from + " to " + chartRange.to;
    var seen = {};
    chartData.rows.forEach(function (r) { if (shown[r.agent_id]) seen[r.state_id] = true; });
    PCCharts.legend($("chart-legend"), style.order.filter(function (k) { return seen[k]; }), style.colours, style.names);
  }

  function showStateMix() {
    if (!chartRange) return;
    var team = PCGrid.filters.team, style = chartStyle();
    $("mix-title").textContent = "State mix over the day · " + (team || "all teams") + " · " + chartRange.to;
    return PC.api("GET", "/api/v1/state-mix?date=" + chartRange.to + (team ? "&team=" + encodeURIComponent(team) : ""))
      .then(function (mix) { $("chart-teams").replaceChildren(PCCharts.hourlyMix(mix.hours, style.order, style.colours, style.names)); },
            function (err) { showError("chart-message", err.message); });
  }

  function showCharts() {
    var from = $("chart-from").value || today, to = $("chart-to").value || from;
    return PC.api("GET", "/api/v1/time-tracking?from=" + from + "&to=" + to).then(function (data) {
      showError("chart-message", "");
      chartData = data;
      chartRange = { from: from, to: to };
      drawAgentChart();
      return showStateMix();
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
    var page = new URLSearchParams(params); page.set("order", "desc"); page.set("limit", "100");  // newest first
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
  $("chart-show").addEventListener("click", showCharts);
  $("logon-form").addEventListener("submit", showLogonEvents);
  ["include", "exclude"].forEach(function (name) {  // the summary says what is ticked
    var picker = $("logon-" + name), shown = picker.querySelector(".picked");
    picker.addEventListener("change", function () {
      var ticked = Array.prototype.map.call(picker.querySelectorAll("input:checked"), function (b) { return b.value; });
      shown.textContent = ticked.length ? ticked.join(", ") : shown.getAttribute("data-none");
    });
  });

  var logonRefresh = null, below = false;
  function loadBelow() {  // the charts and the logon events are under the grid: after its first snapshot
    if (below) return;
    below = true;
    states.then(function () { showCharts(); showLogonEvents(); });
  }
  var stream = new PC.LiveStream("/api/v1/events?view=grid", {
    snapshot: function (data) { PCGrid.replaceAll(data.agents); fillFilters(); loadToday(); loadBelow(); },
    agent: function (agent) { PCGrid.remember(agent); teamsMaybeChanged(agent); soon(); },
    logon: function () {
      if (!$("logon-events").querySelector("tbody").children.length || logonRefresh) return;
      logonRefresh = setTimeout(function () { logonRefresh = null; showLogonEvents(); }, 1000);
    },
    config: function () { loadStates(); },
    resync: function () { stream.stop(); stream.start(); }
  }, setConnection);

  setInterval(loadToday, 60000);
  // the states and the stream's snapshot load side by side; the grid resolves the states when they come
  var states = loadStates().catch(function (err) { showError("grid-message", err.message); });
  stream.start();
})();
