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

  function fill(table, rows) {
    var body = $(table).querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (cells) {
      body.appendChild(el("tr", {}, cells.map(function (c) { return typeof c === "string" ? el("td", { text: c }) : el("td", {}, [c]); })));
    });
  }

  function load() {
    return PC.api("GET", "/admin/api/accounts").then(function (data) {
      fill("users", data.users.map(function (u) {
        return [u.username, u.role, u.agent_id || "—", u.active ? "active" : "disabled", toggle("users", u.username, u.active)];
      }));
      fill("agents", data.agents.map(function (a) {
        var pin = el("input", { type: "password", inputmode: "numeric", size: 6, "aria-label": "New PIN for " + a.id, autocomplete: "new-password" });
        var reset = el("button", { type: "button", text: "Reset PIN", onclick: function () {
          call("POST", "/admin/api/agents/" + encodeURIComponent(a.id) + "/pin", { pin: pin.value }, "PIN of " + a.id + " changed.");
        } });
        return [a.id, a.name, a.team || "—", a.extension || "—", a.has_pin ? "set" : "none",
                a.active ? "active" : "disabled", el("div", { class: "actions" }, [pin, reset, toggle("agents", a.id, a.active)])];
      }));
      fill("tokens", data.tokens.map(function (t) {
        var revoke = t.revoked_at ? el("span", { class: "muted", text: "—" }) : el("button", { type: "button", class: "danger",
          text: "Revoke", "aria-label": "Revoke token " + t.name,
          onclick: function () { call("POST", "/admin/api/tokens/" + t.id + "/revoke", {}, "Token " + t.name + " revoked."); } });
        return [t.name, t.role, t.agent_id || "—", new Date(t.created_at).toLocaleDateString(),
                t.revoked_at ? "revoked" : "active", revoke];
      }));
      var signIns = data.sign_ins || { locked: [], failures: [] };
      fill("locked", signIns.locked.map(function (l) {
        return [l.account, String(l.failures), l.locked_until ? new Date(l.locked_until).toLocaleString() : "until unlocked",
                el("button", { type: "button", text: "Unlock", "aria-label": "Unlock " + l.account,
                  onclick: function () { call("POST", "/admin/api/lockouts/unlock", { account: l.account }, l.account + " unlocked."); } })];
      }));
      fill("sign-in-failures", signIns.failures.map(function (f) {
        return [new Date(f.at).toLocaleString(), f.account, f.address || "—", f.outcome];
      }));
    }, function (err) { say(err.message); });
  }

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
