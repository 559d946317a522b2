/* The wallboard: one screen, no scrolling. Agents per column (Ready, On a call, Wrap-up, DND, Away/Busy,
   Offline), live, per team (?team=Sales for a TV per team): each column gives its count, the longest time
   in state and as many agents as fit, alerting ones first, then "+14 more". When the live stream drops a
   full-screen STALE banner says since when the numbers are not live, and the timers stop. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;
  var agents = {};
  //: presence status code -> column (Busy is shown with Away; Offline also counts logged-out agents)
  var TILE = { 1: "ready", 6: "call", 4: "dnd", 3: "away", 5: "away", 2: "offline", 7: "offline" };
  var TILES = ["ready", "call", "wrapup", "dnd", "away", "offline"];
  //: columns that hold more than one state: each name says which (Lunch, Training, ...)
  var MERGED = { dnd: true, away: true, offline: true };
  var fixedTeam = $("wallboard").getAttribute("data-team") || "";
  var team = fixedTeam || new URLSearchParams(window.location.search).get("team") || "";
  var staleAt = null, frame = 0;

  function now() { return staleAt || Date.now(); }
  function remember(a) { a._since = Date.now() - (a.seconds_in_state || 0) * 1000; agents[a.id] = a; }
  function inState(a) { return (now() - a._since) / 1000; }

  function tileOf(a) {
    if (!a.logged_in || !a.state) return "offline";
    if (a.wrap_up_remaining_seconds !== null && a.wrap_up_remaining_seconds !== undefined) return "wrapup";
    return TILE[a.state.status] || "offline";
  }

  /** {level: 2 red | 1 amber | 0, over: seconds past that alert time} */
  function alertOf(a) {
    var limits = a.logged_in && a.state && a.state.alert_after_seconds;
    if (!limits || !limits.length) return { level: 0, over: 0 };
    var secs = inState(a);
    if (limits.length > 1 && secs >= limits[1]) return { level: 2, over: secs - limits[1] };
    return secs >= limits[0] ? { level: 1, over: secs - limits[0] } : { level: 0, over: 0 };
  }

  /** How far over: 40 -> "+40s", 200 -> "+3m", 4000 -> "+1h 06m" (the card's border and icon say "over"). */
  function overText(seconds) {
    seconds = Math.floor(seconds);
    if (seconds < 60) return "+" + seconds + "s";
    if (seconds < 3600) return "+" + Math.floor(seconds / 60) + "m";
    var m = Math.floor((seconds % 3600) / 60);
    return "+" + Math.floor(seconds / 3600) + "h " + (m < 10 ? "0" : "") + m + "m";
  }

  var SVG_ICON = {  // drawn, not a font glyph: the same on every TV
    amber: [["path", { d: "M12 2 L23 21 H1 Z", fill: "#ffd166" }], ["path", { d: "M11 9 h2 v6 h-2 z M11 17 h2 v2 h-2 z", fill: "#101820" }]],
    red: [["circle", { cx: 12, cy: 12, r: 11, fill: "#ff6b6b" }], ["path", { d: "M11 5 h2 v9 h-2 z M11 16 h2 v2.5 h-2 z", fill: "#101820" }]]
  };
  function icon(level) {
    return PC.svg("svg", { class: "alert-icon", viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" },
                  SVG_ICON[level].map(function (p) { return PC.svg(p[0], p[1]); }));
  }

  function item(a, key) {
    var alert = a._alert, level = alert.level === 2 ? "red" : alert.level === 1 ? "amber" : "";
    var name = a.name || a.id;
    var reason = MERGED[key] ? (a.logged_in && a.state ? a.state.label : "Logged out") : "";
    var time = key === "offline" ? "" : level ? overText(alert.over) : PC.duration(inState(a));
    return el("li", { class: level ? "alert alert-" + level : "", "data-agent": a.id, title: name }, [
      el("span", { class: "agent", text: name }),
      reason || time ? el("span", { class: "detail" }, [
        reason ? el("span", { class: "reason", text: reason }) : null,
        level ? icon(level) : null,
        level ? el("span", { class: "slds-assistive-text", text: (level === "red" ? "red" : "amber") + " alert, over the time allowed by" }) : null,
        time ? el("span", { class: "since", text: time }) : null
      ]) : null
    ]);
  }

  /** Fill a column's list with as many agents as fit, then "+N more". */
  function fillNames(ul, list, key) {
    ul.textContent = "";
    if (!list.length) return;
    var first = ul.appendChild(item(list[0], key));
    var style = getComputedStyle(first);
    var step = Math.max(1, first.offsetHeight + parseFloat(style.marginTop) + parseFloat(style.marginBottom));
    var height = ul.clientHeight + parseFloat(style.marginBottom), fits = list.length, more = null;
    if (Math.floor(height / step) < list.length) {  // not all fit: keep a line for "+N more"
      more = ul.appendChild(el("li", { class: "more" }, ["+0 more"]));
      fits = Math.max(0, Math.floor((height - more.offsetHeight) / step));
      ul.textContent = "";
    }
    for (var i = 0; i < fits; i++) ul.appendChild(i ? item(list[i], key) : first);
    if (more) ul.appendChild(more);
    while (ul.scrollHeight > ul.clientHeight + 1 && fits > 0) {  // a safety net: never scroll, never cut a card
      fits -= 1;
      ul.removeChild(more ? more.previousSibling : ul.lastChild);
      if (!more) more = ul.appendChild(el("li", { class: "more" }));
    }
    if (more) more.textContent = "+" + (list.length - fits) + " more";
  }

  function render() {
    frame = 0;
    var groups = {}, over = 0;
    TILES.forEach(function (k) { groups[k] = []; });
    Object.keys(agents).forEach(function (id) {
      var a = agents[id];
      if (team && a.team !== team) return;
      a._alert = alertOf(a);
      if (a._alert.level) over += 1;
      groups[tileOf(a)].push(a);
    });
    TILES.forEach(function (k) {
      var list = groups[k].sort(function (x, y) {  // alerting first (the most over first), then the longest
        return (y._alert.level - x._alert.level) || (y._alert.over - x._alert.over) ||
          (k === "offline" ? ((x.name || x.id) < (y.name || y.id) ? -1 : 1) : x._since - y._since);
      });
      $("count-" + k).textContent = String(list.length);
      var longest = k !== "offline" && list.length ? Math.max.apply(null, list.map(inState)) : null;
      $("longest-" + k).textContent = longest === null ? "" : "longest " + PC.duration(longest);
      fillNames($("names-" + k), list, k);
    });
    var box = $("over-count");
    box.textContent = over + " over threshold";
    box.setAttribute("data-count", String(over));
    box.classList.toggle("some", over > 0);
  }

  function schedule() { if (!frame) frame = requestAnimationFrame(render); }

  function fillTeams() {
    $("wall-title").textContent = "Wallboard · " + (team || "All teams");
    var select = $("wall-team");
    if (!select) return;  // a TV for one team (?team=): no picker on screen
    var teams = {};
    Object.keys(agents).forEach(function (id) { if (agents[id].team) teams[agents[id].team] = true; });
    if (team) teams[team] = true;
    var names = Object.keys(teams).sort();
    if (Array.prototype.slice.call(select.options, 1).map(function (o) { return o.value; }).join("\n") !== names.join("\n")) {
      while (select.options.length > 1) select.remove(1);
      names.forEach(function (t) { select.appendChild(el("option", { value: t, text: t })); });
    }
    select.value = team;
  }

  if ($("wall-team")) {
    $("wall-team").addEventListener("change", function () {
      team = $("wall-team").value;
      var url = new URL(window.location.href);
      if (team) url.searchParams.set("team", team); else url.searchParams.delete("team");
      window.history.replaceState(null, "", url.toString());  // the address is the TV's bookmark
      fillTeams(); schedule();
    });
  }

  function clockTime(ms) {
    var d = new Date(ms), pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function setConnection(state, retry) {
    if (state === "lost" && !staleAt) staleAt = Date.now();
    if (state === "ok") staleAt = null;
    var line = $("connection");
    line.className = "status-line " + state;
    line.textContent = state === "ok" ? "Live" : state === "lost" ? "Connection lost" : staleAt ? "Reconnecting…" : "Connecting…";
    $("stale").hidden = !staleAt;
    document.body.classList.toggle("is-stale", !!staleAt);
    if (staleAt) {
      $("stale-text").textContent = "Not live since " + clockTime(staleAt) + ": the numbers show that moment." +
        (state === "lost" ? " Retrying in " + retry + " s." : " Reconnecting…");
    }
    schedule();
  }

  function tick() { $("clock").textContent = clockTime(Date.now()); schedule(); }

  var stream = new PC.LiveStream("/api/v1/events", {
    snapshot: function (data) { agents = {}; data.agents.forEach(remember); fillTeams(); schedule(); },
    agent: function (a) {
      var known = agents[a.id];
      remember(a);
      if (!known || known.team !== a.team) fillTeams();
      schedule();
    },
    resync: function () { stream.stop(); stream.start(); }
  }, setConnection);
  window.addEventListener("resize", schedule);
  fillTeams();
  stream.start();
  tick();
  setInterval(tick, 1000);
})();
