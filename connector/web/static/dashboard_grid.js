/* The supervisors' agent grid: every agent in memory, only the rows on screen in the page.

   Hundreds of agents: the list is filtered and sorted in memory and only the rows in (and near) the
   viewport exist as <tr> elements, between two spacer rows that keep the page as tall as the whole
   list (36 px a row), so the scroll bar, the sticky header and the page's own scrolling behave as
   for a plain table. Changes are drawn together (at most every DRAW_EVERY ms, in an animation frame),
   however many arrive.

   A frame's work is kept small, so that 20 changes a second at 1,000 agents do not make long tasks
   (bench/dashboard_bench.py): the agents are re-sorted from the previous order (nearly sorted: the
   engine's merge sort is then close to linear) on keys worked out once per change, not per comparison;
   each cell of a row is rewritten only when what it shows changed; today's per-state bars, which all
   move every 15 s, are redrawn a few rows a frame; the viewport is measured before anything is
   written (no forced layout); rows are their own layers and the borders separate (dashboard.css), so
   a row that changes or moves repaints only itself. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;
  var ROW_H = 36;      // must match #agents tbody tr.agent-row in dashboard.css
  var BUFFER = 6;      // rows drawn above and below the viewport
  var GREY = "#9aa5b1";
  var NO_ALERT = { level: 0, over: 0, limit: 0 };

  var model = {
    agents: {},          // id -> agent (state resolved to the state object, _since = client ms)
    states: [],
    stateIndex: {},
    todayTime: {},       // agent id -> {state_id: seconds} at todayFetchedAt
    todayFetchedAt: Date.now(),
    calls: {},           // agent id -> calls answered today
    staleAt: null        // ms: the stream dropped at this moment; the page shows the data as of then
  };
  var filters = { search: "", team: "", state: "", over: false };
  var sort = { key: "severity", dir: -1 };
  var list = [];                 // the agents shown, sorted
  var counts = { over: 0, shown: 0, loggedIn: 0, all: 0 };
  var order = [];                // every agent id, in the order of the last sort (the next sort starts from it)
  var TODAY_PER_FRAME = 8;       // today's bars rebuilt in one frame at most; the rest in the next frames
  var listDirty = true, frame = 0;
  var rows = {};                 // agent id -> {tr, sig, cells} for the rows in the page
  var shownIds = "";
  var todayVersion = 0;
  var firstRowsMarked = false;
  var tbody = $("agents").querySelector("tbody");
  var topSpacer = spacer(), bottomSpacer = spacer();
  var emptyRow = el("tr", {}, [el("td", { colspan: 7, class: "muted empty", text: "No agents match." })]);

  function spacer() {
    var cell = el("td", { colspan: 7 });
    return { tr: el("tr", { class: "spacer", "aria-hidden": "true" }, [cell]), cell: cell };
  }

  function now() { return model.staleAt || Date.now(); }
  function stateById(id) { return model.stateIndex[id]; }
  function unknownState(id) { return { id: id, label: id, display: id, colour: GREY, status: 0, alert_after_seconds: [] }; }

  /** A state given by id (the grid snapshot) or as an object (a live event): the page's state object. */
  function resolve(state) {
    if (state === null || state === undefined) return null;
    var id = typeof state === "string" ? state : state.id;
    return stateById(id) || (typeof state === "string" ? unknownState(state) : state);
  }

  /** An agent as the grid keeps it: its states resolved, when it entered its state, its sort keys. */
  function prepare(a) {
    a.state = resolve(a.state);
    a.next_state = resolve(a.next_state);  // shown when the grid data carries it
    a._since = Date.now() - (a.seconds_in_state || 0) * 1000;
    keys(a);
    return a;
  }

  function keys(a) {
    a._name = (a.name || a.id).toLowerCase();
    a._team = (a.team || "").toLowerCase();
    a._state = a.logged_in && a.state ? (a.state.display || a.state.label || a.state.id).toLowerCase() : "~";
  }

  function remember(agent) {
    if (!model.agents[agent.id]) order.push(agent.id);
    model.agents[agent.id] = prepare(agent);
    changed();
  }

  function replaceAll(agents) {
    model.agents = {};
    order = [];
    agents.forEach(function (a) { model.agents[a.id] = prepare(a); order.push(a.id); });
    changed();
  }

  function setStates(states) {
    model.states = states;
    model.stateIndex = {};
    states.forEach(function (s) { model.stateIndex[s.id] = s; });
    Object.keys(model.agents).forEach(function (id) {  // new labels, colours and alert times apply at once
      var a = model.agents[id];
      a.state = resolve(a.state); a.next_state = resolve(a.next_state);
      keys(a);
    });
    rows = {}; shownIds = "";
    changed();
  }

  function setToday(timeRows, counters) {
    model.todayTime = {};
    timeRows.forEach(function (r) { (model.todayTime[r.agent_id] = model.todayTime[r.agent_id] || {})[r.state_id] = r.seconds; });
    model.todayFetchedAt = Date.now();
    model.calls = {};
    Object.keys(counters).forEach(function (id) {
      var c = counters[id];
      model.calls[id] = (c.calls_inbound_answered || 0) + (c.calls_outbound_answered || 0) + (c.calls_internal_answered || 0);
    });
    todayVersion += 1;
    changed();
  }

  function onCall(a) {
    if (!a.logged_in) return false;
    if (a.on_call !== undefined) return !!a.on_call;
    return !!(a.state && a.state.status === 6);  // the grid snapshot names only the state
  }

  /** How far over its state's alert time an agent is: level 2 red, 1 amber, 0 not; over = seconds past it. */
  function alertOf(a, t) {
    var limits = a.logged_in && a.state && a.state.alert_after_seconds;
    if (!limits || !limits.length) return NO_ALERT;
    var secs = (t - a._since) / 1000;
    if (limits.length > 1 && secs >= limits[1]) return { level: 2, over: secs - limits[1], limit: limits[1] };
    if (secs >= limits[0]) return { level: 1, over: secs - limits[0], limit: limits[0] };
    return NO_ALERT;
  }

  /** 40 -> "+40s over", 200 -> "+3m over", 4000 -> "+1h 06m over". */
  function overText(seconds) {
    seconds = Math.floor(seconds);
    if (seconds < 60) return "+" + seconds + "s over";
    if (seconds < 3600) return "+" + Math.floor(seconds / 60) + "m over";
    var m = Math.floor((seconds % 3600) / 60);
    return "+" + Math.floor(seconds / 3600) + "h " + (m < 10 ? "0" : "") + m + "m over";
  }

  // -- the list ----------------------------------------------------------------------------------------
  function matches(a) {
    if (filters.team && a.team !== filters.team) return false;
    if (filters.search && (a.name || "").toLowerCase().indexOf(filters.search) < 0 &&
        a.id.toLowerCase().indexOf(filters.search) < 0) return false;
    if (filters.state === "__out") return !a.logged_in;
    if (filters.state) return !!(a.logged_in && a.state && a.state.id === filters.state);
    return true;
  }

  function compare(a, b) {
    var d = 0;
    switch (sort.key) {
      case "severity":  // the most over first; then the longest in state; logged-out agents last
        d = (a._alert.level - b._alert.level) || (a._alert.over - b._alert.over) ||
            ((a.logged_in ? 1 : 0) - (b.logged_in ? 1 : 0)) ||
            (a.logged_in ? (b._since - a._since) : 0);
        break;
      case "team": d = cmp(a._team, b._team); break;
      case "state": d = cmp(a._state, b._state); break;
      case "calls": d = (model.calls[a.id] || 0) - (model.calls[b.id] || 0); break;
      default: d = cmp(a._name, b._name);
    }
    return d * sort.dir || cmp(a._name, b._name) || cmp(a.id, b.id);
  }
  function cmp(x, y) { return x < y ? -1 : x > y ? 1 : 0; }

  function computeList(t) {
    // every agent, from the last sort's order: the sort below then has little to move
    var all = [], over = 0, loggedIn = 0;
    for (var i = 0; i < order.length; i++) {
      var a = model.agents[order[i]];
      if (!a) continue;
      a._alert = alertOf(a, t);
      all.push(a);
    }
    all.sort(compare);
    order = new Array(all.length);
    var shown = [];
    for (i = 0; i < all.length; i++) {
      a = all[i];
      order[i] = a.id;
      if (a.logged_in) loggedIn += 1;
      if (!matches(a)) continue;
      if (a._alert.level) over += 1;
      if (filters.over && !a._alert.level) continue;
      shown.push(a);
    }
    list = shown;
    counts = { over: over, shown: shown.length, loggedIn: loggedIn, all: all.length };
  }

  /** The pill and the summary: written in the frame that draws the rows, so that they always agree. */
  function showCounts() {
    var over = counts.over;
    var pill = $("over-count"), text = over + " over threshold";
    if (pill.textContent !== text) {
      pill.textContent = text;
      pill.setAttribute("data-count", String(over));
      pill.classList.toggle("some", over > 0);
    }
    var summary = counts.shown + " shown · " + counts.loggedIn + " of " + counts.all + " logged in";
    if ($("summary").textContent !== summary) {
      $("summary").textContent = summary;
      $("agents").setAttribute("aria-rowcount", String(counts.shown + 1));
    }
  }

  // -- the rows ------------------------------------------------------------------------------------------
  function timeBar(a, t) {
    var parts = model.todayTime[a.id] || {};
    var current = a.logged_in && a.state ? a.state.id : null;
    var extra = current ? Math.max(0, (t - model.todayFetchedAt) / 1000) : 0;
    var keys = Object.keys(parts);
    if (current && extra && keys.indexOf(current) < 0) keys.push(current);
    var secondsOf = function (k) { return (parts[k] || 0) + (k === current ? extra : 0); };
    var total = 0, labels = [];
    keys.forEach(function (k) { total += secondsOf(k); });
    var bar = el("span", { class: "time-bar", role: "img" });
    keys.forEach(function (k) {
      var st = stateById(k), secs = secondsOf(k);
      if (secs <= 0) return;
      var seg = el("span", { title: (st ? st.label : k) + ": " + PC.shortDuration(secs) });
      seg.style.width = (100 * secs / Math.max(total, 1)).toFixed(2) + "%";
      seg.style.background = st ? st.colour : GREY;
      bar.appendChild(seg);
      labels.push((st ? st.label : k) + " " + PC.shortDuration(secs));
    });
    bar.setAttribute("aria-label", labels.join(", ") || "no time today");
    return [bar, el("span", { class: "muted tracked", text: total ? PC.shortDuration(total) : "—" })];
  }

  function stateCell(a) {
    if (!a.logged_in || !a.state) return [el("span", { class: "badge slds-badge" }, [PC.swatch(GREY), "Logged out"])];
    // a state an adapter's inbound rule set names that system: "Meeting (from Teams)"
    var shown = a.state_from ? a.state.label + " (from " + a.state_from + ")" : a.state.display;
    var out = [el("span", { class: "badge slds-badge state-badge" }, [PC.swatch(a.state.colour), shown])];
    if (a.next_state) out.push(el("span", { class: "next", title: "Applies when the call and its wrap-up end", text: "Next: " + a.next_state.label }));
    if (a.connection_lost) out.push(el("span", { class: "lost-note", text: "connection lost" }));
    return out;
  }

  /** What a row's cells show, one string a cell: a cell is rewritten only when its string changed. */
  function signature(a, t) {
    var current = a.logged_in && a.state ? a.state.id : "";
    return {
      name: a.name + "|" + a.id,
      team: a.team || "",
      state: [a.logged_in, a.state && a.state.id, a.state && a.state.display, a.state && a.state.colour, a.next_state && a.next_state.id,
              a.connection_lost, a.state_from].join("|"),
      today: current + "|" + todayVersion + "|" + Math.floor((t - model.todayFetchedAt) / 15000),
      calls: String(model.calls[a.id] || 0),
      menu: a.logged_in + "|" + a.name
    };
  }

  /** Rewrites the cells whose content changed; today's bar only while the frame's budget lasts. */
  function fill(row, a, t, budget) {
    var c = row.cells, name = a.name || a.id, sig = signature(a, t), old = row.sig || {};
    if (old.name !== sig.name) {
      c.name.replaceChildren(el("span", { class: "agent-name", text: name }), el("span", { class: "agent-id", text: a.id }));
      c.name.title = name + " (" + a.id + ")";
    }
    if (old.team !== sig.team) { c.team.textContent = a.team || "—"; c.team.title = a.team || ""; }
    if (old.state !== sig.state) c.state.replaceChildren.apply(c.state, stateCell(a));
    if (old.today !== sig.today) {
      // a new row gets its bar at once; a bar that only moved on waits for a frame with room
      if (old.today === undefined || budget.today > 0) {
        budget.today -= 1;
        c.today.replaceChildren.apply(c.today, timeBar(a, t));
      } else {
        budget.more = true;
        sig.today = old.today;
      }
    }
    if (old.calls !== sig.calls) c.calls.textContent = sig.calls;
    if (old.menu !== sig.menu) {
      if (a.logged_in) {
        if (!c.menu.firstChild) {
          c.menu.appendChild(el("button", { type: "button", class: "row-menu-button slds-button slds-button_icon-border-filled", "data-control": "menu",
                                            "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": "row-menu",
                                            "aria-label": "Actions for " + name, title: "Actions" }, ["⋯"]));
        }
        c.menu.firstChild.setAttribute("aria-label", "Actions for " + name);
      } else {
        c.menu.textContent = "";
      }
    }
    row.sig = sig;
  }

  function makeRow(a) {
    var cells = {
      name: el("td", { class: "col-name" }), team: el("td", { class: "col-team" }),
      state: el("td", { class: "state-cell col-state" }), time: el("td", { class: "num in-state col-time" }),
      today: el("td", { class: "col-today" }), calls: el("td", { class: "num calls col-calls" }),
      menu: el("td", { class: "col-menu" })
    };
    var tr = el("tr", { class: "agent-row", "data-agent": a.id },
                [cells.name, cells.team, cells.state, cells.time, cells.today, cells.calls, cells.menu]);
    // the ticking time: text nodes rewritten in place, in a box of its own size (a layout boundary), so
    // that a second going by lays out and paints that box only, not the table
    var clock = { box: el("span", { class: "clock" }), text: document.createTextNode(""),
                  over: el("span", { class: "over" }), overText: document.createTextNode("") };
    clock.box.appendChild(clock.text);
    clock.over.appendChild(clock.overText);
    cells.time.appendChild(clock.box);
    return { tr: tr, cells: cells, clock: clock, sig: null, time: null, cls: null, index: -1 };
  }

  function update(row, a, t, index, budget) {
    fill(row, a, t, budget);
    var alert = a._alert || alertOf(a, t);
    var time = a.logged_in ? PC.duration((t - a._since) / 1000) : "—";
    var over = alert.level ? overText(alert.over) : "";
    if (row.time !== time + over) {
      row.time = time + over;
      var clock = row.clock;
      clock.text.data = time;
      if (over) {
        var colour = alert.level === 2 ? "red" : "amber";
        clock.overText.data = " " + over;
        if (clock.over.className !== "over " + colour) clock.over.className = "over " + colour;
        if (!clock.over.parentNode) clock.box.appendChild(clock.over);
        row.cells.time.title = a.state.label + " for " + time + ": " + colour + " after " + PC.shortDuration(alert.limit);
      } else {
        if (clock.over.parentNode) clock.box.removeChild(clock.over);
        row.cells.time.removeAttribute("title");
      }
    }
    var cls = "agent-row" + (alert.level === 2 ? " alert-red" : alert.level === 1 ? " alert-amber" : "") +
      (a.connection_lost ? " lost" : "") + (a.logged_in ? "" : " out");
    if (row.cls !== cls) { row.tr.className = cls; row.cls = cls; }
    if (row.index !== index) { row.tr.setAttribute("aria-rowindex", String(index + 2)); row.index = index; }
  }

  /** Put the rows in order moving as few as possible: a change moves one row, not the screen's 40. */
  function place(want) {
    var at = tbody.firstChild;
    for (var k = 0; k < want.length; k++) {
      if (at === want[k]) { at = at.nextSibling; continue; }
      if (at && at.nextSibling === want[k]) {  // this row moved down: take it out, it comes back below
        var out = at;
        at = at.nextSibling;
        tbody.removeChild(out);
        if (at === want[k]) { at = at.nextSibling; continue; }
      }
      tbody.insertBefore(want[k], at);
    }
    while (at) { var next = at.nextSibling; tbody.removeChild(at); at = next; }
  }

  function draw() {
    frame = 0;
    if (!model.states.length) return;  // drawn once the states are known (setStates draws)
    // measured before anything is written in this frame: reading layout after a write would force it
    var top = tbody.getBoundingClientRect().top;  // the list's top, relative to the viewport
    var t = now();
    if (listDirty) { computeList(t); listDirty = false; }
    showCounts();
    var n = list.length;
    var first = Math.max(0, Math.floor(-top / ROW_H) - BUFFER);
    var last = Math.min(n, Math.ceil((window.innerHeight - top) / ROW_H) + BUFFER);
    if (first > n) first = n;
    if (last < first) last = first;
    var kept = {}, trs = [], ids = [], budget = { today: TODAY_PER_FRAME, more: false };
    for (var i = first; i < last; i++) {
      var a = list[i], row = rows[a.id] || makeRow(a);
      update(row, a, t, i, budget);
      kept[a.id] = row;
      trs.push(row.tr); ids.push(a.id);
    }
    rows = kept;
    topSpacer.cell.style.height = first * ROW_H + "px";
    bottomSpacer.cell.style.height = (n - last) * ROW_H + "px";
    topSpacer.tr.classList.toggle("hidden", first === 0);
    bottomSpacer.tr.classList.toggle("hidden", n === last);
    var key = ids.join("\n") + (n ? "" : "\nempty");
    if (key !== shownIds) {
      shownIds = key;
      // keep a keyboard user's place: a focused row button survives the rows moving
      var active = document.activeElement, keep = null;
      if (active && tbody.contains(active)) {
        var tr = active.closest("tr");
        keep = { agent: tr && tr.getAttribute("data-agent"), control: active.getAttribute("data-control") };
      }
      place([topSpacer.tr].concat(trs, [bottomSpacer.tr], n ? [] : [emptyRow]));
      if (keep && document.activeElement !== active && rows[keep.agent]) {
        var again = rows[keep.agent].tr.querySelector('[data-control="' + keep.control + '"]');
        if (again) again.focus({ preventScroll: true });
      }
    }
    if (budget.more) schedule();  // the bars left for the next frame
    if (trs.length && !firstRowsMarked) {
      firstRowsMarked = true;
      performance.mark("pc-grid-first-rows");  // read by bench/dashboard_bench.py
    }
  }

  function schedule() { if (!frame) frame = requestAnimationFrame(draw); }
  // a busy floor sends many changes a second: they are drawn together, at most every DRAW_EVERY ms (two
  // frames a second at most, with the clock's tick: a supervisor sees a change within half a second)
  var DRAW_EVERY = 500, lastChange = 0, later = 0;
  function changed() {
    listDirty = true;
    var wait = lastChange + DRAW_EVERY - Date.now();
    if (wait <= 0) { lastChange = Date.now(); schedule(); return; }
    if (!later) later = setTimeout(function () { later = 0; lastChange = Date.now(); schedule(); }, wait);
  }

  /** The supervisor asked for it (a filter, a sort): drawn in the next frame, not with the stream's batch. */
  function now_() { listDirty = true; schedule(); }

  function setStale(at) {
    model.staleAt = at;
    $("dashboard").classList.toggle("stale", !!at);
    rows = {}; shownIds = "";  // redraw every row (their titles and classes)
    changed();
  }

  window.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", schedule);
  setInterval(changed, 1000);  // time in state, alerts and the severity order move on

  window.PCGrid = {
    model: model, filters: filters, sort: sort,
    remember: remember, replaceAll: replaceAll, setStates: setStates, setToday: setToday, setStale: setStale,
    stateById: stateById, onCall: onCall, alertOf: alertOf, overText: overText,
    agent: function (id) { return model.agents[id]; },
    setFilter: function (name, value) { filters[name] = value; now_(); },
    setSort: function (key, dir) { sort.key = key; sort.dir = dir; now_(); },
    /** The agents the grid shows now (its filters applied), in its order. */
    shown: function () {
      if (listDirty) { computeList(now()); listDirty = false; schedule(); }  // the rows and counts follow in the next frame
      return list.slice();
    },
    teams: function () {
      var teams = {};
      Object.keys(model.agents).forEach(function (id) { if (model.agents[id].team) teams[model.agents[id].team] = true; });
      return Object.keys(teams).sort();
    },
    now: now
  };
})();
