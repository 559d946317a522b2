/* Admin: the Salesforce tab (connection, sync health, "Sync now", the call-centre file) and the
   Adapters tab (enabled or not, settings as configured, health, "Test connection"). */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;

  function when(iso) { return iso ? new Date(iso).toLocaleString() : null; }

  function facts(list, pairs) {
    var box = $(list);
    box.textContent = "";
    pairs.forEach(function (p) {
      box.appendChild(el("dt", { text: p[0] }));
      box.appendChild(el("dd", { text: p[1] === null || p[1] === undefined || p[1] === "" ? "—" : String(p[1]) }));
    });
  }

  function badge(node, text, kind) {
    node.textContent = text;
    node.className = "badge " + kind;
  }

  function message(box, text, ok) {
    box.textContent = text || "";
    box.classList.remove("notice", "problems");
    if (text) box.classList.add(ok ? "notice" : "problems");
  }

  // -- Salesforce ------------------------------------------------------------------------------------
  var urlFilled = false;

  function showSalesforce(st) {
    if (!urlFilled) { $("callcenter-url").value = st.softphone_url; urlFilled = true; }
    $("sf-sync-now").disabled = !st.configured;
    $("sf-message").textContent = "Status: " + st.message + (st.detail ? " — " + st.detail : "");
    if (!st.configured) {
      badge($("sf-badge"), "Not configured", "off");
      facts("sf-connection", [["Totals", st.totals]]);
      facts("sf-health", []);
      fillParked([]);
      return;
    }
    var failing = st.consecutive_failures > 0 || st.paused_until;
    badge($("sf-badge"), st.paused_until ? "Paused" : failing ? "Failing" : "Configured", failing ? "bad" : "ok");
    var c = st.connection;
    facts("sf-connection", [["Login host", c.login_host], ["Auth mode", c.auth_mode], ["API version", c.api_version],
                            ["Object", c.object + " (by " + c.external_id_field + ")"],
                            ["Client secret", c.client_secret_set ? "set" : "not set"]]);
    var usage = st.api_usage;
    facts("sf-health", [
      ["Last success", when(st.last_success_at) || "never"],
      ["Rows pending", st.rows_pending],
      ["Rows parked", st.rows_parked],
      ["API usage (org)", usage ? usage.used + " / " + usage.limit + " at " + when(usage.at) : "not known yet"],
      ["Next attempt", when(st.next_attempt_at) || "on the next interval (every " + st.tracking_interval_seconds + " s)"],
      ["Paused until", when(st.paused_until) || "not paused"],
      ["Last error", st.last_error ? st.last_error + " (" + when(st.last_error_at) + ")" : "none"]]);
    fillParked(st.parked);
  }

  function fillParked(rows) {
    var body = $("sf-parked").querySelector("tbody");
    body.textContent = "";
    if (!rows.length) body.appendChild(el("tr", {}, [el("td", { colspan: 5, class: "muted", text: "No parked rows." })]));
    rows.forEach(function (r) {
      body.appendChild(el("tr", {}, [el("td", { text: r.agent_id }), el("td", { text: r.date }), el("td", { text: r.state_id }),
                                     el("td", { class: "num", text: String(r.seconds) }), el("td", { text: r.reason })]));
    });
  }

  function loadSalesforce() {
    return PC.api("GET", "/admin/api/salesforce").then(showSalesforce,
      function (err) { message($("sf-sync-result"), err.message); });
  }

  $("sf-sync-now").addEventListener("click", function () {
    var button = $("sf-sync-now");
    button.disabled = true;
    message($("sf-sync-result"), "Sending the pending totals…", true);
    PC.api("POST", "/admin/api/salesforce/sync", {}).then(function (res) {
      var text = res.summary + (res.parked_reasons.length ? " — parked: " + res.parked_reasons.join("; ") : "");
      message($("sf-sync-result"), text, res.ok);
      showSalesforce(res.status);
    }, function (err) { message($("sf-sync-result"), err.message); }).then(function () { button.disabled = false; });
  });

  $("callcenter-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = $("callcenter-url"), box = $("callcenter-error");
    input.classList.remove("invalid");
    box.classList.add("hidden");
    PC.api("GET", "/admin/callcenter.xml?url=" + encodeURIComponent(input.value)).then(function (xml) {
      var link = el("a", { href: URL.createObjectURL(new Blob([xml], { type: "application/xml" })),
                           download: "presence-connector-callcenter.xml" });
      document.body.appendChild(link);
      link.click();
      link.remove();
    }, function (err) {
      input.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
      box.textContent = (err.field === "url" ? "Softphone URL: " : "") + err.message;
      box.classList.remove("hidden");
    });
  });

  // -- adapters --------------------------------------------------------------------------------------
  function settingsTable(a) {
    var rows = a.settings.map(function (s) {
      var shown = s.secret ? (s.set ? "set" : "not set")
                           : s.value === null || s.value === undefined || s.value === "" ? "not set"
                           : String(s.value) + (s.from_default ? " (default)" : "");
      return el("tr", {}, [el("td", { class: "env", text: s.env + (s.required ? " *" : "") }),
                           el("td", { text: shown + (s.secret ? " (secret, never shown)" : "") }),
                           el("td", { class: "muted", text: s.help || "" })]);
    });
    if (!rows.length) rows = [el("tr", {}, [el("td", { colspan: 3, class: "muted", text: "No settings." })])];
    return el("table", { class: "adapter-settings" }, [
      el("thead", {}, [el("tr", {}, [el("th", { text: "Environment variable" }), el("th", { text: "Value" }), el("th", { text: "About" })])]),
      el("tbody", {}, rows)]);
  }

  function adapterCard(a) {
    var result = el("div", { class: "test-result", role: "status", "aria-live": "polite" });
    var test = el("button", { type: "button", text: "Test connection", "aria-label": "Test connection of " + a.name,
                              disabled: !a.enabled, title: a.enabled ? null : "enable it first (CONNECTOR_ADAPTERS)" });
    test.addEventListener("click", function () {
      test.disabled = true;
      message(result, "Testing " + a.name + "…", true);
      PC.api("POST", "/admin/api/adapters/" + encodeURIComponent(a.name) + "/test", {}).then(function (res) {
        message(result, (res.ok ? "OK — " : "Failed — ") + res.message, res.ok);
      }, function (err) { message(result, err.message); }).then(function () { test.disabled = false; });
    });
    var state = el("span", {});
    badge(state, a.enabled ? "Enabled" : "Not enabled", a.enabled ? "ok" : "off");
    var h = a.health;
    var health = el("dl", { class: "facts" });
    if (h) {
      [["Last success", when(h.last_success_at) || "never"], ["Queue depth", h.queue_depth], ["Parked", h.parked],
       ["Last error", h.last_error ? h.last_error + " (" + when(h.last_error_at) + ")" : "none"]].forEach(function (p) {
        health.appendChild(el("dt", { text: p[0] }));
        health.appendChild(el("dd", { text: String(p[1]) }));
      });
    }
    return el("div", { class: "card adapter", id: "adapter-" + a.name, "data-adapter": a.name }, [
      el("div", { class: "toolbar" }, [el("h2", { text: a.name }), state, el("span", { class: "spacer" }), test]),
      h ? health : el("p", { class: "muted", text: "Add " + a.name + " to CONNECTOR_ADAPTERS and restart to enable it." }),
      result, settingsTable(a)]);
  }

  function loadAdapters() {
    return PC.api("GET", "/admin/api/adapters").then(function (data) {
      $("connector-adapters").textContent = data.connector_adapters || "(not set)";
      var list = $("adapter-list");
      list.textContent = "";
      data.adapters.sort(function (x, y) { return (y.enabled - x.enabled) || (x.name < y.name ? -1 : 1); });
      data.adapters.forEach(function (a) { list.appendChild(adapterCard(a)); });
    }, function (err) { $("adapter-list").appendChild(el("p", { class: "problems", text: err.message })); });
  }

  $("tab-salesforce").addEventListener("click", loadSalesforce);
  $("tab-adapters").addEventListener("click", loadAdapters);
})();
