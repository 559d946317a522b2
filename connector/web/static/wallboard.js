/* The wallboard: agents per tile (Ready, On a call, Wrap-up, DND, Away/Busy, Offline) — live, per team
   (?team=Sales for a TV per team), with names, the longest time in the current state and the
   admin's time-in-state alerts. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;
  var agents = {};
  //: presence status code -> tile (Busy is shown with Away; Offline also counts logged-out agents)
  var TILE = { 1: "ready", 6: "call", 4: "dnd", 3: "away", 5: "away", 2: "offline", 7: "offline" };
  var TILES = ["ready", "call", "wrapup", "dnd", "away", "offline"];
  var team = new URLSearchParams(window.location.search).get("team") || $("wallboard").getAttribute("data-team") || "";

  function remember(a) { a._since = Date.now() - (a.seconds_in_state || 0) * 1000; agents[a.id] = a; }
  function inState(a) { return (Date.now() - a._since) / 1000; }

  function tileOf(a) {
    if (!a.logged_in || !a.state) return "offline";
    if (a.wrap_up_remaining_seconds !== null && a.wrap_up_remaining_seconds !== undefined) return "wrapup";
    return TILE[a.state.status] || "offline";
  }

  function alertLevel(a) {
    var limits = a.logged_in && a.state && a.state.alert_after_seconds;
    if (!limits || !limits.length) return "";
    var secs = inState(a);
    if (limits.length > 1 && secs >= limits[1]) return "red";
    return secs >= limits[0] ? "amber" : "";
  }

  function render() {
    var groups = {}, over = 0;
    TILES.forEach(function (k) { groups[k] = []; });
    Object.keys(agents).forEach(function (id) {
      var a = agents[id];
      if (team && a.team !== team) return;
      groups[tileOf(a)].push(a);
    });
    TILES.forEach(function (k) {
      var list = groups[k].sort(function (x, y) { return x._since - y._since; });  // longest first
      $("count-" + k).textContent = String(list.length);
      var timed = k !== "offline" && list.length;
      $("longest-" + k).textContent = timed ? "longest " + PC.duration(inState(list[0])) : "";
      var names = $("names-" + k);
      names.textContent = "";
      list.forEach(function (a) {
        var level = alertLevel(a);
        if (level) over += 1;
        var item = el("li", { class: level ? "alert-" + level : "", "data-agent": a.id }, [a.name || a.id]);
        if (k !== "offline") {
          item.appendChild(el("span", { class: "since", text: PC.duration(inState(a)) + (level ? " · over limit" : "") }));
        }
        names.appendChild(item);
      });
    });
    var box = $("over-count");
    box.textContent = over + " over threshold";
    box.setAttribute("data-count", String(over));
    box.classList.toggle("some", over > 0);
  }

  function fillTeams() {
    var select = $("wall-team"), teams = {};
    Object.keys(agents).forEach(function (id) { if (agents[id].team) teams[agents[id].team] = true; });
    if (team) teams[team] = true;
    while (select.options.length > 1) select.remove(1);
    Object.keys(teams).sort().forEach(function (t) { select.appendChild(el("option", { value: t, text: t })); });
    select.value = team;
    $("wall-title").textContent = "Wallboard · " + (team || "All teams");
  }

  $("wall-team").addEventListener("change", function () {
    team = $("wall-team").value;
    var url = new URL(window.location.href);
    if (team) url.searchParams.set("team", team); else url.searchParams.delete("team");
    window.history.replaceState(null, "", url.toString());  // the address is the TV's bookmark
    fillTeams(); render();
  });

  function setConnection(state, retry) {
    var line = $("connection");
    line.className = "status-line " + state;
    line.textContent = state === "ok" ? "Live" : state === "lost" ? "Connection lost — retrying in " + retry + " s" : "Connecting…";
  }

  function clock() { $("clock").textContent = new Date().toLocaleTimeString(); render(); }

  var stream = new PC.LiveStream("/api/v1/events", {
    snapshot: function (data) { agents = {}; data.agents.forEach(remember); fillTeams(); render(); },
    agent: function (a) { remember(a); fillTeams(); render(); },
    resync: function () { stream.stop(); stream.start(); }
  }, setConnection);
  fillTeams();
  stream.start();
  clock();
  setInterval(clock, 1000);
})();
