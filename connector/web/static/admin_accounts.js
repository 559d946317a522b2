/* Admin: users, agents and API tokens (create, disable, reset PIN, revoke; tokens shown once). */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;

  function say(text, ok) {
    var box = $("accounts-message");
    box.textContent = text || "";
    box.className = text ? (ok ? "notice" : "problems") : "";
  }

  function formData(form) {
    var data = {};
    new FormData(form).forEach(function (value, key) { if (value !== "" && !(value instanceof File)) data[key] = value; });
    return data;
  }

  function call(method, path, body, done) {
    return PC.api(method, path, body).then(function (res) { if (done) say(done, true); return load().then(function () { return res; }); },
                                          function (err) { say(err.message + (err.field ? " (" + err.field + ")" : "")); throw err; });
  }

  function toggle(kind, id, active) {
    var label = active ? "Disable" : "Enable";
    return el("button", { type: "button", class: active ? "danger" : "", text: label, "aria-label": label + " " + id,
      onclick: function () { call("POST", "/admin/api/" + kind + "/" + encodeURIComponent(id) + "/active", { active: !active },
                                  (active ? "Disabled " : "Enabled ") + id + "."); } });
  }

  function fill(table, rows, empty) {
    var body = $(table).querySelector("tbody");
    body.textContent = "";
    if (!rows.length) {
      var columns = $(table).querySelectorAll("thead th").length;
      body.appendChild(el("tr", { class: "empty" }, [el("td", { colspan: columns, class: "muted", text: empty })]));
    }
    rows.forEach(function (cells) {
      body.appendChild(el("tr", {}, cells.map(function (c) { return typeof c === "string" ? el("td", { text: c }) : el("td", {}, [c]); })));
    });
  }

  function load() {
    return PC.api("GET", "/admin/api/accounts").then(function (data) {
      fill("users", data.users.map(function (u) {
        return [u.username, u.role, u.agent_id || "—", u.active ? "active" : "disabled", toggle("users", u.username, u.active)];
      }), "No users yet: add one with the form above.");
      fill("agents", data.agents.map(function (a) {
        var pin = el("input", { type: "password", inputmode: "numeric", size: 6, "aria-label": "New PIN for " + a.id, autocomplete: "new-password" });
        var reset = el("button", { type: "button", text: "Reset PIN", onclick: function () {
          call("POST", "/admin/api/agents/" + encodeURIComponent(a.id) + "/pin", { pin: pin.value }, "PIN of " + a.id + " changed.");
        } });
        var change = el("button", { type: "button", text: "Edit", "aria-label": "Edit " + a.id, onclick: function () { startEdit(a); } });
        return [a.id, a.name, a.team || "—", a.extension || "—", a.email || "—", a.salesforce_user_id || "—",
                a.has_pin ? "set" : "none", a.active ? "active" : "disabled",
                el("div", { class: "actions" }, [change, pin, reset, toggle("agents", a.id, a.active)])];
      }), "No agents yet: add one above or import a CSV file.");
      fill("tokens", data.tokens.map(function (t) {
        var revoke = t.revoked_at ? el("span", { class: "muted", text: "—" }) : el("button", { type: "button", class: "danger",
          text: "Revoke", "aria-label": "Revoke token " + t.name,
          onclick: function () { call("POST", "/admin/api/tokens/" + t.id + "/revoke", {}, "Token " + t.name + " revoked."); } });
        return [t.name, t.role, t.agent_id || "—", new Date(t.created_at).toLocaleDateString(),
                t.revoked_at ? "revoked" : "active", revoke];
      }), "No API tokens yet: create one for the PBX or CTI layer.");
      var signIns = data.sign_ins || { locked: [], alerts: [], throttled: [], failures: [] };
      fill("sign-in-alerts", (signIns.alerts || []).map(function (a) {
        var action = a.locked ? el("span", { class: "muted", text: "locked" }) : el("button", { type: "button", class: "danger",
          text: "Lock", "aria-label": "Lock " + a.account,
          onclick: function () { call("POST", "/admin/api/lockouts/lock", { account: a.account }, a.account + " locked."); } });
        var clear = el("button", { type: "button", text: "Clear", "aria-label": "Clear the alert of " + a.account,
          onclick: function () { call("POST", "/admin/api/lockouts/unlock", { account: a.account }, a.account + " cleared."); } });
        return [a.account, String(a.failures), new Date(a.since).toLocaleString(), el("div", { class: "actions" }, [action, clear])];
      }), "No account has had many failed sign-ins today.");
      fill("locked", signIns.locked.map(function (l) {
        return [l.account, String(l.refused || 0), l.locked_until ? new Date(l.locked_until).toLocaleString() : "until unlocked",
                el("button", { type: "button", text: "Unlock", "aria-label": "Unlock " + l.account,
                  onclick: function () { call("POST", "/admin/api/lockouts/unlock", { account: l.account }, l.account + " unlocked."); } })];
      }), "No locked accounts.");
      fill("sign-in-throttled", (signIns.throttled || []).map(function (t) {
        return [t.key, String(t.failures), String(t.refused || 0), new Date(t.blocked_until).toLocaleString()];
      }), "Nobody is slowed down now.");
      fill("sign-in-failures", signIns.failures.map(function (f) {
        return [new Date(f.at).toLocaleString(), f.account, f.address || "—", f.outcome];
      }), "No failed sign-ins.");
    }, function (err) { say(err.message); });
  }

  // -- editing an agent: errors next to their field ---------------------------------------------------
  var EDITABLE = ["name", "team", "extension", "email", "salesforce_user_id"];

  function editError(field, text) {
    var input = $("edit-" + field), box = $("edit-" + field + "-error");
    if (!input) return false;
    box.textContent = text || "";
    box.classList.toggle("hidden", !text);
    input.classList.toggle("invalid", !!text);
    if (text) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    return true;
  }

  function startEdit(agent) {
    var form = $("agent-edit");
    form.elements.id.value = agent.id;
    EDITABLE.forEach(function (k) { form.elements[k].value = agent[k] || ""; editError(k, ""); });
    $("agent-edit-title").textContent = "Edit agent " + agent.id;
    form.classList.remove("hidden");
    form.elements.name.focus();
  }

  $("agent-edit-cancel").addEventListener("click", function () { $("agent-edit").classList.add("hidden"); });
  $("agent-edit").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target, id = form.elements.id.value, body = {};
    EDITABLE.forEach(function (k) { body[k] = form.elements[k].value.trim(); editError(k, ""); });
    PC.api("PATCH", "/admin/api/agents/" + encodeURIComponent(id), body).then(function () {
      form.classList.add("hidden");
      say("Agent " + id + " saved.", true);
      return load();
    }, function (err) {
      if (!editError(err.field, err.message)) say(err.message);
      else $("edit-" + err.field).focus();
    });
  });

  $("user-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    call("POST", "/admin/api/users", formData(form), "User added.").then(function () { form.reset(); }, function () {});
  });
  $("agent-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    call("POST", "/admin/api/agents", formData(form), "Agent added.").then(function () { form.reset(); }, function () {});
  });
  $("agent-import").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var file = ev.target.elements.file.files[0];
    if (!file) return;
    file.text().then(function (text) {
      return call("POST", "/admin/api/agents/import", { csv: text });
    }).then(function (res) { say("Imported: " + res.created + " created, " + res.updated + " updated.", true); }, function () {});
  });
  $("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    call("POST", "/admin/api/tokens", formData(form), "Token created.").then(function (res) {
      $("new-token-value").textContent = res.token;
      $("new-token").classList.remove("hidden");
      form.reset();
    }, function () {});
  });
  load();
})();
