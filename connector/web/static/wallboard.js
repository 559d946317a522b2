/* The wallboard: how many agents are Ready, On a call, DND, Away/Busy, Offline — live. */
(function () {
  "use strict";
  var agents = {};
  //: presence status code -> tile (Busy is shown with Away; Offline also counts logged-out agents)
  var TILE = { 1: "ready", 6: "call", 4: "dnd", 3: "away", 5: "away", 2: "offline", 7: "offline" };

  function render() {
    var counts = { ready: 0, call: 0, dnd: 0, away: 0, offline: 0 };
    Object.keys(agents).forEach(function (id) {
      var a = agents[id];
      var tile = a.logged_in && a.state ? TILE[a.state.status] || "offline" : "offline";
      counts[tile] += 1;
    });
    Object.keys(counts).forEach(function (k) { document.getElementById("count-" + k).textContent = String(counts[k]); });
  }

  function setConnection(state, retry) {
    var line = document.getElementById("connection");
    line.className = "status-line " + state;
    line.textContent = state === "ok" ? "Live" : state === "lost" ? "Connection lost — retrying in " + retry + " s" : "Connecting…";
  }

  function clock() { document.getElementById("clock").textContent = new Date().toLocaleTimeString(); }

  var stream = new PC.LiveStream("/api/v1/events", {
    snapshot: function (data) { agents = {}; data.agents.forEach(function (a) { agents[a.id] = a; }); render(); },
    agent: function (a) { agents[a.id] = a; render(); },
    resync: function () { stream.stop(); stream.start(); }
  }, setConnection);
  stream.start();
  clock();
  setInterval(clock, 1000);
})();
