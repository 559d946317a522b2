/* Admin: the Salesforce tab (connection, sync health, "Sync now", the call-centre file) and the
   Adapters tab (enable, settings saved here over the environment, secrets write-only, health,
   "Test connection"). */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;
  var SLDS = window.PCAdmin;  // admin.js: the SLDS classes
  var BADGE_THEME = { ok: " slds-theme_success", bad: " slds-theme_error", warn: " slds-theme_warning", off: "" };

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
    node.className = "slds-badge badge " + kind + (BADGE_THEME[kind] || "");
  }

  function message(box, text, ok) {
    box.textContent = text || "";
    (SLDS.notice + " " + SLDS.problems).split(" ").forEach(function (c) { box.classList.remove(c); });
    if (text) (ok ? SLDS.notice : SLDS.problems).split(" ").forEach(function (c) { box.classList.add(c); });
  }

  // -- Salesforce ------------------------------------------------------------------------------------
  var urlFilled = false;

  var SF_SOURCE = { page: "saved here", environment: "environment", "default": "default" };

  /** The connection form: each SF_* setting with where its value comes from; secrets only as set or not. */
  function showSalesforceForm(st) {
    var box = $("sf-fields");
    box.textContent = "";
    (st.settings || []).forEach(function (s) {
      var id = "sf-" + s.env;
      var now = s.secret ? (s.set ? "set (" + SF_SOURCE[s.source] + ")" : "not set") :
        (s.value ? s.value + " (" + SF_SOURCE[s.source] + ")" : "not set");
      var input = s.secret ?
        el("input", { type: "password", id: id, name: s.env, autocomplete: "new-password", "data-secret": "1",
                      placeholder: s.set ? "leave empty to keep" : "not set", "aria-describedby": id + "-about", class: SLDS.input }) :
        el("input", { type: "text", id: id, name: s.env, value: s.saved || "", placeholder: s.source === "page" ? "" : s.value || "not set",
                      "aria-describedby": id + "-about", class: SLDS.input });
      var label = el("label", { for: id, class: "slds-form-element__label" }, [s.label + " ", el("code", { class: "env-hint", text: s.env })]);
      var parts = [label, input,
        el("span", { class: "setting-now", id: id + "-about", text: "Now: " + now + ". " + s.help.charAt(0).toUpperCase() + s.help.slice(1) + "." })];
      if (s.secret && s.source === "page") {
        parts.push(SLDS.checkbox(el("input", { type: "checkbox", name: "clear", value: s.env }), "clear the saved " + s.label.toLowerCase()));
      }
      parts.push(el("span", { class: "field-error hidden", "data-error-for": s.env }));
      box.appendChild(el("div", { class: "slds-form-element sf-field" }, parts));
    });
    var last = st.changes && st.changes[0];
    $("sf-last-change").textContent = last ? "Last change by " + last.by + " at " + when(last.at) + ": " + last.summary : "";
  }

  function sfErrorsCleared() {
    document.querySelectorAll("#sf-form .invalid").forEach(function (n) { n.classList.remove("invalid"); n.removeAttribute("aria-invalid"); });
    document.querySelectorAll("#sf-form .field-error").forEach(function (n) { n.classList.add("hidden"); n.textContent = ""; });
  }

  function saveConnection(body) {
    sfErrorsCleared();
    $("sf-save").disabled = true;
    message($("sf-form-result"), "Saving…", true);
    return PC.api("POST", "/admin/api/salesforce/connection", body).then(function (res) {
      showSalesforce(res.status);
      message($("sf-form-result"), "Saved and applied" + (res.note ? " — " + res.note : "") + ".", true);
    }, function (err) {
      var input = err.field ? $("sf-" + err.field) : null;
      var box = err.field ? document.querySelector("#sf-form [data-error-for='" + err.field + "']") : null;
      if (input && box) {
        input.classList.add("invalid");
        input.setAttribute("aria-invalid", "true");
        box.textContent = err.message;
        box.classList.remove("hidden");
        input.focus();
      }
      message($("sf-form-result"), "Not saved: " + err.message);
    }).then(function () { $("sf-save").disabled = false; });
  }

  $("sf-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = { values: {}, secrets: {}, clear: [] };
    document.querySelectorAll("#sf-fields [name]").forEach(function (input) {
      if (input.name === "clear") { if (input.checked) body.clear.push(input.value); return; }
      if (input.getAttribute("data-secret")) { if (input.value) body.secrets[input.name] = input.value; }
      else body.values[input.name] = input.value;
    });
    saveConnection(body);
  });
  $("sf-reset").addEventListener("click", function () { saveConnection({ reset: true }); });

  function showSalesforce(st) {
    if (!urlFilled) { $("callcenter-url").value = st.softphone_url; urlFilled = true; }
    showSalesforceForm(st);
    $("sf-sync-now").disabled = !st.configured;
    $("sf-message").textContent = "Status: " + st.message + (st.detail ? " — " + st.detail : "");
    if (!st.configured) {
      badge($("sf-badge"), "Not configured", "off");
      facts("sf-connection", [["Totals", st.totals]]);
      // say what to set instead of an empty card
      facts("sf-health", [["Sync", "off: totals are kept in the local store only"]]
        .concat(st.detail ? [["What is missing", st.detail]] : [])
        .concat([["To turn it on", "fill in the connection settings below (or the SF_* variables): the login URL " +
                  "(SF_LOGIN_URL) and client id (SF_CLIENT_ID), then the client secret (SF_CLIENT_SECRET: client " +
                  "credentials, on a My Domain login URL) or the username and private key file (SF_USERNAME + " +
                  "SF_PRIVATE_KEY_FILE: JWT bearer)"]]));
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
      ["Last error", st.last_error ? st.last_error + " (" + when(st.last_error_at) + ")" : "none"],
      ["Retention", st.retention ? st.retention.days + " days kept; " + st.retention.records_deleted + " records deleted" +
        (st.retention.last_run_at ? ", last run " + when(st.retention.last_run_at) : ", not run yet") +
        (st.retention.note ? " (" + st.retention.note + ")" : "") : "off: every record stays in the org (SF_RETENTION_DAYS)"]]);
    fillParked(st.parked);
  }

  function fillParked(rows) {
    var body = $("sf-parked").querySelector("tbody");
    body.textContent = "";
    if (!rows.length) body.appendChild(el("tr", {}, [el("td", { colspan: 5, class: "muted", text: "No parked rows." })]));
    rows.forEach(function (r) {
      body.appendChild(el("tr", {}, [el("td", { text: r.agent_id }), el("td", { text: r.date }),
                                     el("td", { text: r.state_id || "daily counters" }),
                                     el("td", { class: "num", text: r.seconds == null ? "—" : String(r.seconds) }),
                                     el("td", { text: r.reason })]));
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
  var SOURCE = { page: "saved here", environment: "environment", "default": "default" };

  function valueInput(a, s) {
    var id = "setting-" + a.name + "-" + s.env;
    if (s.secret) {
      return el("input", { type: "password", id: id, name: s.env, autocomplete: "new-password", "data-secret": "1",
                           placeholder: s.set ? "leave empty to keep" : "not set", class: SLDS.input });
    }
    var shown = s.value === null || s.value === undefined ? "" : String(s.value);
    if (s.choices) {
      var options = [el("option", { value: "", text: "(" + (s.source === "page" ? "environment or default" : SOURCE[s.source]) + ": " + (shown || "none") + ")" })];
      s.choices.forEach(function (c) { options.push(el("option", { value: c, text: c, selected: s.saved === c })); });
      return SLDS.selectBox(el("select", { id: id, name: s.env, class: SLDS.select }, options));
    }
    return el("input", { type: "text", id: id, name: s.env, value: s.saved === null || s.saved === undefined ? "" : s.saved,
                         placeholder: s.source === "page" ? "" : shown || "not set", class: SLDS.input });
  }

  function nowText(s) {
    if (s.secret) return (s.set ? "set" : "not set") + (s.set ? " (" + SOURCE[s.source] + ")" : "");
    if (s.value === null || s.value === undefined || s.value === "") return "not set";
    return String(s.value) + " (" + SOURCE[s.source] + ")";
  }

  function settingsTable(a) {
    var rows = a.settings.map(function (s) {
      var cell = [valueInput(a, s)];
      if (s.secret && s.source === "page") {
        cell.push(SLDS.checkbox(el("input", { type: "checkbox", name: "clear", value: s.env }), "clear " + s.label));
      }
      cell.push(el("span", { class: "field-error hidden", "data-error-for": s.env }));
      // a plain label for the input, the environment variable as a hint
      var name = el("td", { class: "env" }, [
        el("label", { for: "setting-" + a.name + "-" + s.env, class: "setting-label", text: s.label }),
        s.required ? el("span", { class: "required", text: " (required)" }) : null,
        el("code", { class: "env-hint", title: "environment variable", text: s.env })]);
      return el("tr", {}, [name,
                           el("td", { class: "setting-now", text: nowText(s) }),
                           el("td", { class: "setting-input" }, cell),
                           el("td", { class: "muted", text: (s.secret ? "secret, never shown. " : "") + (s.help || "") })]);
    });
    if (!rows.length) rows = [el("tr", {}, [el("td", { colspan: 4, class: "muted", text: "No settings." })])];
    return el("table", { class: SLDS.table + " adapter-settings" }, [
      el("thead", {}, [el("tr", {}, [el("th", { scope: "col", text: "Setting" }), el("th", { scope: "col", text: "Now" }),
                                     el("th", { scope: "col", text: "Value saved here" }), el("th", { scope: "col", text: "About" })])]),
      el("tbody", {}, rows)]);
  }

  function collect(form) {
    var body = { enabled: form.querySelector("input[name=enabled]").checked, values: {}, secrets: {}, clear: [] };
    Array.prototype.forEach.call(form.querySelectorAll("[name]"), function (input) {
      if (input.name === "enabled") return;
      if (input.name === "clear") { if (input.checked) body.clear.push(input.value); return; }
      if (input.getAttribute("data-secret")) { if (input.value) body.secrets[input.name] = input.value; }
      else body.values[input.name] = input.value;
    });
    return body;
  }

  function showFieldError(form, err, result) {
    var input = err.field ? form.querySelector("[name='" + err.field + "']") : null;
    var box = err.field ? form.querySelector("[data-error-for='" + err.field + "']") : null;
    if (input && box) {
      input.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
      box.textContent = err.message;
      box.classList.remove("hidden");
      input.focus();
      message(result, "Not saved: " + err.message);
    } else {
      message(result, "Not saved: " + err.message);
    }
  }

  /** One line for the card's summary: "Healthy", "Failing", "Parked rows", "Not sending", or "Off". */
  function healthWord(a) {
    var h = a.health;
    if (!a.enabled) return h && (h.queue_depth || h.parked) ? ["Off, rows waiting", "warn"] : ["Off", "off"];
    if (!h) return ["No deliveries yet", "off"];
    if (h.last_error && (!h.last_success_at || h.last_error_at > h.last_success_at)) return ["Failing", "bad"];
    if (h.parked) return ["Parked rows: " + h.parked, "warn"];
    if (h.why_not) return ["Not sending", "warn"];
    if (!h.last_success_at) return ["No deliveries yet", "off"];
    return ["Healthy", "ok"];
  }

  /** The adapter as a summary card (enabled, health, last success) that opens to its settings form. */
  function adapterCard(a, open) {
    var word = healthWord(a);
    var enabled = el("span", {}), health = el("span", {});
    badge(enabled, a.enabled ? "Enabled" : "Not enabled", a.enabled ? "ok" : "off");
    badge(health, word[0], word[1]);
    health.classList.add("health-badge");
    var last = a.health && a.health.last_success_at ? when(a.health.last_success_at) : "never";
    var summary = el("summary", {}, [
      el("span", { class: "adapter-name", text: a.name }), enabled, health,
      el("span", { class: "summary-fact", text: "Last success: " + last }),
      a.health && a.health.queue_depth ? el("span", { class: "summary-fact", text: "Queued: " + a.health.queue_depth }) : null]);
    var card = el("details", { class: "slds-card adapter-card", id: "adapter-card-" + a.name, "data-adapter": a.name }, [summary, adapterForm(a)]);
    card.open = !!open;
    return card;
  }

  function adapterForm(a) {
    var result = el("div", { class: "test-result", role: "status", "aria-live": "polite" });
    var test = el("button", { type: "button", class: SLDS.button, text: "Test connection", "aria-label": "Test connection of " + a.name,
                              disabled: !a.enabled, title: a.enabled ? null : "enable it first" });
    test.addEventListener("click", function () {
      test.disabled = true;
      message(result, "Testing " + a.name + "…", true);
      PC.api("POST", "/admin/api/adapters/" + encodeURIComponent(a.name) + "/test", {}).then(function (res) {
        message(result, (res.ok ? "OK — " : "Failed — ") + res.message, res.ok);
      }, function (err) { message(result, err.message); }).then(function () { test.disabled = false; });
    });
    var state = el("span", {});
    badge(state, a.enabled ? "Enabled" : "Not enabled", a.enabled ? "ok" : "off");
    var toggle = SLDS.checkbox(el("input", { type: "checkbox", name: "enabled", checked: a.enabled, disabled: !a.editable }), "Enabled");
    var save = el("button", { type: "submit", class: SLDS.brand, text: "Save", disabled: !a.editable,
                              "aria-label": "Save " + a.name });
    var h = a.health;
    var health = el("dl", { class: "facts" });
    if (h) {
      [["Last success", when(h.last_success_at) || "never"], ["Queue depth", h.queue_depth], ["Parked", h.parked],
       ["Last error", h.last_error ? h.last_error + " (" + when(h.last_error_at) + ")" : "none"]].forEach(function (p) {
        health.appendChild(el("dt", { text: p[0] }));
        health.appendChild(el("dd", { text: String(p[1]) }));
      });
    }
    var last = a.changes && a.changes[0];
    var form = el("form", { class: "adapter", id: "adapter-" + a.name, "data-adapter": a.name, novalidate: true }, [
      el("div", { class: "toolbar center" }, [el("h2", { class: "slds-text-heading_small", text: a.name }), state, el("span", { class: "spacer" }), toggle, save, test]),
      h ? health : el("p", { class: "muted", text: "Not enabled: tick Enabled and save (or add it to CONNECTOR_ADAPTERS)." }),
      !a.enabled && h && h.queue_depth ? el("p", { class: "muted", text: "Rows queued while it is disabled wait here and go out once it is enabled again." }) : null,
      last ? el("p", { class: "muted last-change", text: "Last change by " + last.by + " at " + when(last.at) + ": " + last.summary }) : null,
      a.editable ? null : el("p", { class: "muted", text: "Built by the application; not editable here." }),
      result, settingsTable(a)]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      Array.prototype.forEach.call(form.querySelectorAll(".invalid"), function (n) { n.classList.remove("invalid"); n.removeAttribute("aria-invalid"); });
      Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (n) { n.classList.add("hidden"); });
      save.disabled = true;
      message(result, "Saving…", true);
      PC.api("POST", "/admin/api/adapters/" + encodeURIComponent(a.name), collect(form)).then(function (res) {
        var card = adapterCard(res.adapter, true);
        form.closest("details").replaceWith(card);
        message(card.querySelector(".test-result"), "Saved and applied" + (res.notes.length ? " — " + res.notes.join("; ") : "") + ".", true);
      }, function (err) { showFieldError(form, err, result); save.disabled = false; });
    });
    return form;
  }

  function loadAdapters() {
    return PC.api("GET", "/admin/api/adapters").then(function (data) {
      $("connector-adapters").textContent = data.connector_adapters || "(not set)";
      var list = $("adapter-list");
      list.textContent = "";
      data.adapters.sort(function (x, y) { return (y.enabled - x.enabled) || (x.name < y.name ? -1 : 1); });
      data.adapters.forEach(function (a) { list.appendChild(adapterCard(a, false)); });
    }, function (err) { $("adapter-list").appendChild(el("p", { class: SLDS.problems, text: err.message })); });
  }

  $("tab-salesforce").addEventListener("click", loadSalesforce);
  $("tab-adapters").addEventListener("click", loadAdapters);
})();
