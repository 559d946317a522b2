/* Admin: users, agents and API tokens (create, disable, reset PIN, revoke; tokens shown once).
   The agents list is searched, filtered by team and paged here (PAGE_SIZE rows at a time, so 1,000
   agents never make 1,000 rows); each row's actions are in one menu; Team is picked from the teams
   the agents have, or typed as a new one. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;
  var SLDS = window.PCAdmin;  // admin.js: the SLDS classes

  function say(text, ok) {
    var box = $("accounts-message");
    box.textContent = text || "";
    box.className = text ? (ok ? SLDS.notice : SLDS.problems) : "";
  }

  var PAGE_SIZE = 25;
  var NEW_TEAM = "__new__";
  var agents = [];          // every agent, as /admin/api/accounts lists them
  var teamZones = {};       // team -> its time zone ("" : the connector's)
  var agentPage = 0;
  var openMenu = null;      // the row menu open now (one at a time)

  function formData(form) {
    var data = {};
    new FormData(form).forEach(function (value, key) { if (value !== "" && !(value instanceof File)) data[key] = value; });
    if (data.team === NEW_TEAM) data.team = (data.new_team || "").trim();
    delete data.new_team;
    return data;
  }

  // -- Team: picked from the teams the agents have, or a new one -----------------------------------
  function teams() {
    var seen = {};
    agents.forEach(function (a) { if (a.team) seen[a.team] = true; });
    return Object.keys(seen).sort(function (x, y) { return x.localeCompare(y); });
  }

  function fillTeamSelect(select, keep, blank) {
    var value = keep === undefined ? select.value : keep;
    select.textContent = "";
    select.appendChild(el("option", { value: "", text: blank }));
    teams().forEach(function (t) { select.appendChild(el("option", { value: t, text: t })); });
    if (select.hasAttribute("data-new-team")) select.appendChild(el("option", { value: NEW_TEAM, text: "New team…" }));
    select.value = value && teams().indexOf(value) < 0 && select.hasAttribute("data-new-team") ? NEW_TEAM : value || "";
    if (select.value === NEW_TEAM && value !== NEW_TEAM) newTeamInput(select).value = value;
    showNewTeam(select);
  }

  function newTeamInput(select) { return select.closest(".team-field").querySelector("input[name=new_team]"); }

  function showNewTeam(select) {
    var box = select.closest(".team-field");
    if (!box) return;
    var on = select.value === NEW_TEAM;
    box.querySelector(".new-team").classList.toggle("hidden", !on);
    newTeamInput(select).required = on;
  }

  document.querySelectorAll("select[data-new-team]").forEach(function (select) {
    select.addEventListener("change", function () {
      showNewTeam(select);
      if (select.value === NEW_TEAM) newTeamInput(select).focus();
    });
  });

  function call(method, path, body, done) {
    return PC.api(method, path, body).then(function (res) { if (done) say(done, true); return load().then(function () { return res; }); },
                                          function (err) { say(err.message + (err.field ? " (" + err.field + ")" : "")); throw err; });
  }

  function toggle(kind, id, active) {
    var label = active ? "Disable" : "Enable";
    return el("button", { type: "button", class: active ? SLDS.danger : SLDS.button, text: label, "aria-label": label + " " + id,
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
      agents = data.agents;
      teamZones = {};
      (data.teams || []).forEach(function (t) { teamZones[t.name] = t.timezone; });
      fillTeamSelect($("agent-team-filter"), undefined, "All teams");
      fillTeamSelect($("team-zone-form").elements.team, undefined, "Pick a team");
      showTeamZone();
      fillTeamSelect($("agent-form").elements.team, undefined, "No team");
      renderAgents();
      fill("tokens", data.tokens.map(function (t) {
        var revoke = t.revoked_at ? el("span", { class: "muted", text: "—" }) : el("button", { type: "button", class: SLDS.danger,
          text: "Revoke", "aria-label": "Revoke token " + t.name,
          onclick: function () { call("POST", "/admin/api/tokens/" + t.id + "/revoke", {}, "Token " + t.name + " revoked."); } });
        return [t.name, t.role, t.agent_id || "—", new Date(t.created_at).toLocaleDateString(),
                t.revoked_at ? "revoked" : "active", revoke];
      }), "No API tokens yet: create one for the PBX or CTI layer.");
      var signIns = data.sign_ins || { locked: [], alerts: [], throttled: [], failures: [] };
      fill("sign-in-alerts", (signIns.alerts || []).map(function (a) {
        var action = a.locked ? el("span", { class: "muted", text: "locked" }) : el("button", { type: "button", class: SLDS.danger,
          text: "Lock", "aria-label": "Lock " + a.account,
          onclick: function () { call("POST", "/admin/api/lockouts/lock", { account: a.account }, a.account + " locked."); } });
        var clear = el("button", { type: "button", class: SLDS.button, text: "Clear", "aria-label": "Clear the alert of " + a.account,
          onclick: function () { call("POST", "/admin/api/lockouts/unlock", { account: a.account }, a.account + " cleared."); } });
        return [a.account, String(a.failures), new Date(a.since).toLocaleString(), el("div", { class: "actions" }, [action, clear])];
      }), "No account has had many failed sign-ins today.");
      fill("locked", signIns.locked.map(function (l) {
        return [l.account, String(l.refused || 0), l.locked_until ? new Date(l.locked_until).toLocaleString() : "until unlocked",
                el("button", { type: "button", class: SLDS.button, text: "Unlock", "aria-label": "Unlock " + l.account,
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

  // -- the agents list: search, team, pages, a menu per row -------------------------------------------
  function matching() {
    var words = $("agent-search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var team = $("agent-team-filter").value;
    return agents.filter(function (a) {
      if (team && a.team !== team) return false;
      var text = [a.id, a.name, a.team, a.extension, a.email, a.salesforce_user_id, a.timezone].join(" ").toLowerCase();
      return words.every(function (w) { return text.indexOf(w) >= 0; });
    });
  }

  function renderAgents() {
    closeMenu();
    var found = matching();
    var pages = Math.max(1, Math.ceil(found.length / PAGE_SIZE));
    agentPage = Math.min(Math.max(agentPage, 0), pages - 1);
    var start = agentPage * PAGE_SIZE, shown = found.slice(start, start + PAGE_SIZE);
    var empty = agents.length ? "No agent matches the search or team." : "No agents yet: add one above or import a CSV file.";
    fill("agents", shown.map(function (a) {
      return [a.id, a.name, a.team || "—", a.extension || "—", a.email || "—", a.salesforce_user_id || "—",
              a.timezone || "default", a.has_pin ? "set" : "none", a.active ? "active" : "disabled", rowMenu(a)];
    }), empty);
    $("agents").querySelectorAll("tbody tr").forEach(function (row, i) { if (shown[i]) row.setAttribute("data-agent", shown[i].id); });
    $("agent-count").textContent = found.length ?
      "Showing " + (start + 1) + "–" + (start + shown.length) + " of " + found.length + " agent" + (found.length > 1 ? "s" : "") +
      (found.length < agents.length ? " (" + agents.length + " in all)" : "") : "No agents shown (" + agents.length + " in all).";
    $("agent-page").textContent = "Page " + (agentPage + 1) + " of " + pages;
    $("agent-prev").disabled = agentPage === 0;
    $("agent-next").disabled = agentPage >= pages - 1;
  }

  function closeMenu(focusButton) {
    if (!openMenu) return;
    openMenu.list.classList.add("hidden");
    openMenu.button.parentNode.classList.remove("slds-is-open");
    openMenu.button.setAttribute("aria-expanded", "false");
    if (focusButton) openMenu.button.focus();
    openMenu = null;
  }

  function rowMenu(a) {
    var items = [
      ["Edit", "", function () { startEdit(a); }],
      ["Reset PIN", "", function () { startPin(a); }],
      [a.active ? "Disable" : "Enable", a.active ? "danger" : "", function () {
        call("POST", "/admin/api/agents/" + encodeURIComponent(a.id) + "/active", { active: !a.active },
             (a.active ? "Disabled " : "Enabled ") + a.id + ".");
      }]];
    var list = el("ul", { class: "slds-dropdown slds-dropdown_right slds-dropdown_actions row-menu-list hidden", role: "menu", "aria-label": "Actions for " + a.id });
    var button = el("button", { type: "button", class: SLDS.button + " row-menu-button", text: "Actions ▾", "aria-haspopup": "menu",
                                "aria-expanded": "false", "aria-label": "Actions for " + a.id });
    items.forEach(function (item) {
      list.appendChild(el("li", { role: "none", class: "slds-dropdown__item" }, [el("button", { type: "button", role: "menuitem", class: item[1], text: item[0],
        "aria-label": item[0] + " " + a.id, tabindex: "-1",
        onclick: function () { closeMenu(); item[2](); } })]));
    });
    var entries = function () { return Array.prototype.slice.call(list.querySelectorAll("[role=menuitem]")); };
    button.addEventListener("click", function (ev) {
      ev.stopPropagation();
      var wasOpen = openMenu && openMenu.button === button;
      closeMenu();
      if (wasOpen) return;
      list.classList.remove("hidden");
      button.parentNode.classList.add("slds-is-open");
      button.setAttribute("aria-expanded", "true");
      openMenu = { button: button, list: list };
      entries()[0].focus();
    });
    list.addEventListener("keydown", function (ev) {
      var all = entries(), at = all.indexOf(document.activeElement);
      if (ev.key === "Escape") { ev.preventDefault(); closeMenu(true); }
      else if (ev.key === "ArrowDown") { ev.preventDefault(); all[(at + 1) % all.length].focus(); }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); all[(at - 1 + all.length) % all.length].focus(); }
      else if (ev.key === "Home") { ev.preventDefault(); all[0].focus(); }
      else if (ev.key === "End") { ev.preventDefault(); all[all.length - 1].focus(); }
      else if (ev.key === "Tab") closeMenu();
    });
    return el("div", { class: "slds-dropdown-trigger slds-dropdown-trigger_click row-menu" }, [button, list]);
  }

  document.addEventListener("click", function (ev) {
    if (openMenu && !openMenu.list.contains(ev.target)) closeMenu();
  });

  $("agent-search").addEventListener("input", function () { agentPage = 0; renderAgents(); });
  $("agent-team-filter").addEventListener("change", function () { agentPage = 0; renderAgents(); });
  $("agent-prev").addEventListener("click", function () { agentPage -= 1; renderAgents(); });
  $("agent-next").addEventListener("click", function () { agentPage += 1; renderAgents(); });

  // -- a new PIN: its own labelled field -----------------------------------------------------------------
  function startPin(agent) {
    var form = $("pin-form");
    form.elements.id.value = agent.id;
    form.elements.pin.value = "";
    $("pin-label-text").textContent = "New PIN for " + agent.id + (agent.name ? " (" + agent.name + ")" : "");
    form.classList.remove("hidden");
    form.elements.pin.focus();
  }
  $("pin-cancel").addEventListener("click", function () { $("pin-form").classList.add("hidden"); });
  $("pin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target, id = form.elements.id.value;
    call("POST", "/admin/api/agents/" + encodeURIComponent(id) + "/pin", { pin: form.elements.pin.value }, "PIN of " + id + " changed.")
      .then(function () { form.classList.add("hidden"); form.elements.pin.value = ""; }, function () { form.elements.pin.focus(); });
  });

  // -- editing an agent: errors next to their field ---------------------------------------------------
  var EDITABLE = ["name", "team", "extension", "email", "salesforce_user_id", "timezone"];

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
    fillTeamSelect(form.elements.team, agent.team || "", "No team");
    EDITABLE.forEach(function (k) { if (k !== "team") form.elements[k].value = agent[k] || ""; editError(k, ""); });
    $("agent-edit-title").textContent = "Edit agent " + agent.id;
    form.classList.remove("hidden");
    form.elements.name.focus();
  }

  $("agent-edit-cancel").addEventListener("click", function () { $("agent-edit").classList.add("hidden"); });
  $("agent-edit").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target, id = form.elements.id.value, body = {};
    EDITABLE.forEach(function (k) { body[k] = form.elements[k].value.trim(); editError(k, ""); });
    if (body.team === NEW_TEAM) body.team = form.elements.new_team.value.trim();
    PC.api("PATCH", "/admin/api/agents/" + encodeURIComponent(id), body).then(function () {
      form.classList.add("hidden");
      say("Agent " + id + " saved.", true);
      return load();
    }, function (err) {
      if (!editError(err.field, err.message)) say(err.message);
      else $("edit-" + err.field).focus();
    });
  });

  // -- a team's time zone: the days of its agents without a zone of their own --------------------------
  function showTeamZone() {
    var form = $("team-zone-form"), team = form.elements.team.value;
    form.elements.timezone.value = team ? teamZones[team] || "" : "";
    form.elements.timezone.disabled = !team;
  }
  $("team-zone-form").elements.team.addEventListener("change", showTeamZone);
  $("team-zone-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target, team = form.elements.team.value;
    if (!team) { say("Pick a team first."); return; }
    call("PUT", "/admin/api/teams/" + encodeURIComponent(team), { timezone: form.elements.timezone.value.trim() },
         "Time zone of team " + team + " saved.").then(function () {}, function () { form.elements.timezone.focus(); });
  });

  $("user-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    call("POST", "/admin/api/users", formData(form), "User added.").then(function () { form.reset(); }, function () {});
  });
  $("agent-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    call("POST", "/admin/api/agents", formData(form), "Agent added.").then(function () { form.reset(); showNewTeam(form.elements.team); }, function () {});
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
