/* Admin: the audit trail, filtered (actor, action, target, days) and paged newest first, with its CSV/JSON export. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;
  var PAGE_SIZE = 50;
  var offset = 0;
  var actionsFilled = false;

  function query(withPage) {
    var params = new URLSearchParams();
    new FormData($("audit-filters")).forEach(function (value, key) { if (value) params.set(key, value); });
    if (withPage) { params.set("offset", offset); params.set("limit", PAGE_SIZE); }
    return params.toString();
  }

  function shown(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function fillActions(actions) {
    if (actionsFilled) return;
    var select = $("audit-filters").elements.action;
    Object.keys(actions).forEach(function (name) {
      select.appendChild(el("option", { value: name, text: name + " (" + actions[name] + ")" }));
    });
    actionsFilled = true;
  }

  function load() {
    var q = query(false);
    $("audit-csv").setAttribute("href", "/admin/audit.csv" + (q ? "?" + q : ""));
    $("audit-json").setAttribute("href", "/admin/audit.json" + (q ? "?" + q : ""));
    return PC.api("GET", "/admin/api/audit?" + query(true)).then(function (data) {
      $("audit-message").textContent = "";
      $("audit-message").className = "";
      fillActions(data.actions);
      var body = $("audit").querySelector("tbody");
      body.textContent = "";
      data.events.forEach(function (e) {
        body.appendChild(el("tr", {}, [
          el("td", { text: new Date(e.at).toLocaleString() }),
          el("td", { text: e.actor }), el("td", { text: e.actor_role }), el("td", { text: e.address }),
          el("td", { text: e.action }), el("td", { text: e.target }),
          el("td", { text: shown(e.before) }), el("td", { text: shown(e.after) }), el("td", { text: e.detail })]));
      });
      $("audit-count").textContent = data.total ?
        "Showing " + (offset + 1) + "–" + (offset + data.events.length) + " of " + data.total + " action" + (data.total > 1 ? "s" : "") :
        "No actions match.";
      $("audit-prev").disabled = offset === 0;
      $("audit-next").disabled = offset + data.events.length >= data.total;
    }, function (err) {
      $("audit-message").textContent = err.message + (err.field ? " (" + err.field + ")" : "");
      $("audit-message").className = window.PCAdmin.problems;
    });
  }

  $("audit-filters").addEventListener("submit", function (ev) { ev.preventDefault(); offset = 0; load(); });
  $("audit-prev").addEventListener("click", function () { offset = Math.max(0, offset - PAGE_SIZE); load(); });
  $("audit-next").addEventListener("click", function () { offset += PAGE_SIZE; load(); });
  $("tab-audit").addEventListener("click", function () { offset = 0; load(); });
})();
