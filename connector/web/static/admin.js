/* Admin: the presence states editor. The draft is validated by the server with the rules of
   `presence-connector config validate`, inline, as the admin types; "Review changes" lists what applying
   it changes, and only "Apply" there applies a new version. System states (the last Ready, On a Call and
   Logged Out states of the active configuration) keep their id and status and cannot be removed: the
   server refuses it too (connector/presence/system_states.py). Durations are typed as minutes ("5") or
   m:ss ("1:30") and stored as seconds. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = PC.el;
  // the Lightning Design System classes the admin scripts put on what they build (the page loads SLDS);
  // notice, problems, primary and danger stay as the names the scripts and tests look for
  var SLDS = window.PCAdmin = {
    button: "slds-button slds-button_neutral", brand: "slds-button slds-button_brand primary",
    danger: "slds-button slds-button_text-destructive danger", input: "slds-input", select: "slds-select",
    notice: "slds-notify slds-notify_alert slds-theme_success pc-message notice",
    problems: "slds-notify slds-notify_alert slds-theme_error pc-message problems",
    table: "slds-table slds-table_bordered slds-table_cell-buffer",
    /** A select in SLDS's container, which draws its arrow. */
    selectBox: function (select) { return el("span", { class: "slds-select_container" }, [select]); },
    /** An SLDS checkbox: the box drawn by slds-checkbox_faux, the text in a form-element label. */
    checkbox: function (input, text, cls) {
      return el("label", { class: "slds-checkbox pc-check" + (cls ? " " + cls : "") },
                [input, el("span", { class: "slds-checkbox_faux" }), el("span", { class: "slds-form-element__label", text: text })]);
    }
  };
  var STATUSES = [[1, "Online"], [2, "Offline"], [3, "Away"], [4, "DND"], [5, "Busy"], [6, "On a call"], [7, "Logout"]];
  var MAPPINGS = [["omni_channel", "Omni-Channel DeveloperName"], ["skype", "Skype availability"], ["teams", "Teams availability"]];

  var draft = null;       // the configuration being edited (the shape of config.to_dict())
  var autoIds = {};       // row index -> id was generated from the label
  var validateTimer = null;
  var lastProblems = [];
  var omniStatuses = null;  // the org's ServicePresenceStatus rows, when Salesforce is configured
  var systemIds = {};       // status code -> ids of the active configuration's states of a system status
  var inboundSources = [];  // [{source, name}]: the sources an inbound rule may be written for

  // -- tabs --------------------------------------------------------------------------------------
  document.querySelectorAll('[role="tab"]').forEach(function (tab) {
    tab.addEventListener("click", function () {
      document.querySelectorAll('[role="tab"]').forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.parentNode.classList.toggle("slds-is-active", on);
        $(t.getAttribute("aria-controls")).classList.toggle("hidden", !on);
      });
    });
  });

  function slug(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
  }

  function setStatus(text, kind) {
    var box = $("editor-status");
    box.textContent = text || "";
    box.className = kind === "ok" ? SLDS.notice : kind === "dirty" ? "muted" : "";
  }

  // -- reading and writing the draft -------------------------------------------------------------
  function getPath(path) {
    return path.split(".").reduce(function (obj, key) { return obj ? obj[key] : undefined; }, draft);
  }
  function setPath(path, value) {
    var keys = path.split("."), obj = draft;
    keys.slice(0, -1).forEach(function (k) { obj = obj[k] = obj[k] || {}; });
    if (value === undefined) delete obj[keys[keys.length - 1]]; else obj[keys[keys.length - 1]] = value;
  }
  function readInput(input) {
    if (input.type === "checkbox") return input.checked;
    if (input.hasAttribute("data-duration")) return readDuration(input.value);
    if (input.type === "number") {
      if (input.value === "") return undefined;
      var n = Number(input.value);
      return Number.isInteger(n) ? n : input.value;  // the server names a bad number
    }
    if (input.type === "time") return input.value || undefined;
    return input.value;
  }

  // -- durations: shown as m:ss, typed as minutes or m:ss, stored as seconds --------------------------
  function showDuration(seconds) {
    if (seconds === undefined || seconds === null || seconds === "") return "";
    if (typeof seconds !== "number") return String(seconds);  // a bad value stays as typed; the server names it
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }
  /** "5" -> 300 (minutes), "1:30" -> 90, "1:00:00" -> 3600, "" -> undefined; anything else -> the text itself,
      which the server refuses naming the field. */
  function readDuration(text) {
    text = String(text).trim();
    if (text === "") return undefined;
    var m = /^(\d+)(?::([0-5]\d))?(?::([0-5]\d))?$/.exec(text);
    if (m && m[3] !== undefined) return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
    if (m && m[2] !== undefined) return Number(m[1]) * 60 + Number(m[2]);
    if (m) return Number(m[1]) * 60;
    if (/^\d*\.\d+$/.test(text) && Number.isInteger(Number(text) * 60)) return Number(text) * 60;
    return text;
  }
  PC.showDuration = showDuration;
  PC.readDuration = readDuration;

  // -- system states --------------------------------------------------------------------------------
  /** Row index -> the system status it holds, for the rows that are the last kept state of a system
      status (those cannot be removed, and their id and status cannot change). */
  function lockedRows() {
    var locked = {};
    Object.keys(systemIds).forEach(function (code) {
      var ids = systemIds[code], kept = [];
      draft.states.forEach(function (st, i) {
        if (ids.indexOf(st.id) >= 0 && String(st.status) === code) kept.push(i);
      });
      if (kept.length === 1) locked[kept[0]] = Number(code);
    });
    return locked;
  }

  function applyLocks() {
    var locked = lockedRows();
    $("states").querySelectorAll("tbody tr").forEach(function (row, i) {
      var on = locked[i] !== undefined;
      row.classList.toggle("system-state", on);
      row.querySelector('[data-key="id"]').readOnly = on;
      row.querySelector('[data-key="status"]').disabled = on;
      row.querySelector(".remove-state").classList.toggle("hidden", on);
      row.querySelector(".system-tag").classList.toggle("hidden", !on);
    });
  }

  function changed() {
    setStatus("Unsaved changes", "dirty");
    if (validateTimer) clearTimeout(validateTimer);
    validateTimer = setTimeout(validate, 250);
  }

  // -- rendering ----------------------------------------------------------------------------------
  function stateRow(state, i) {
    var update = function (key, value) {
      if (value === undefined || value === "") delete state[key]; else state[key] = value;
      changed();
    };
    var label = el("input", { type: "text", "data-key": "label", value: state.label || "", "aria-label": "Label", required: true, class: SLDS.input });
    var id = el("input", { type: "text", "data-key": "id", value: state.id || "", "aria-label": "Id", class: SLDS.input + " code" });
    label.addEventListener("input", function () {
      state.label = label.value;
      if (autoIds[i]) { state.id = slug(label.value); id.value = state.id; }
      changed();
    });
    id.addEventListener("input", function () { autoIds[i] = false; state.id = id.value; changed(); });
    var status = el("select", { "data-key": "status", "aria-label": "Status", class: SLDS.select });
    STATUSES.forEach(function (s) { status.appendChild(el("option", { value: s[0], text: s[0] + " " + s[1] })); });
    status.value = String(state.status || 1);
    status.addEventListener("change", function () { state.status = Number(status.value); applyLocks(); changed(); });
    var code = el("input", { type: "text", "data-key": "reason_code", class: SLDS.input + " code", value: state.reason_code || "",
                             "aria-label": "Reason code", placeholder: "e.g. *61" });
    code.addEventListener("input", function () { update("reason_code", code.value); });
    var colour = el("input", { type: "color", "data-key": "colour", value: state.colour || "#546e7a", "aria-label": "Colour" });
    colour.addEventListener("input", function () { state.colour = colour.value; changed(); });
    // time in this state after which supervisors see the row amber, then red (empty: no alert)
    var limits = (state.alert_after_seconds || []).slice();
    var alertInput = function (i, word) {
      var input = el("input", { type: "text", inputmode: "numeric", class: SLDS.input + " alert-after duration", value: showDuration(limits[i]),
                                "aria-label": word + " alert after (minutes or m:ss) for " + (state.label || "this state"),
                                placeholder: word, size: 5 });
      input.addEventListener("input", function () {
        var list = [];
        alertInputs.forEach(function (box) { var v = readDuration(box.value); if (v !== undefined) list.push(v); });
        update("alert_after_seconds", list.length ? list : undefined);
      });
      return input;
    };
    var alertInputs = [alertInput(0, "amber"), alertInput(1, "red")];
    var alerts = el("div", { class: "alert-fields", "data-key": "alert_after_seconds" }, alertInputs);
    var pick = el("input", { type: "checkbox", "data-key": "selectable", "aria-label": "Agents may pick" });
    pick.checked = state.selectable !== false;
    pick.addEventListener("change", function () { state.selectable = pick.checked; changed(); });

    var adapters = state.adapters = state.adapters || {};
    var maps = el("div", { class: "mapping-fields", "data-key": "adapters" });
    MAPPINGS.forEach(function (m) {
      var value = typeof adapters[m[0]] === "string" ? adapters[m[0]] : "";
      if (m[0] === "omni_channel" && omniStatuses && omniStatuses.length && typeof (adapters[m[0]] || "") === "string") {
        maps.appendChild(SLDS.selectBox(omniSelect(adapters, value, m[1])));
        return;
      }
      var input = el("input", { type: "text", value: value, placeholder: m[0].replace("_", "-"), "aria-label": m[1], size: 10, class: SLDS.input });
      if (adapters[m[0]] !== undefined && typeof adapters[m[0]] !== "string") input.disabled = true;  // kept as imported
      input.addEventListener("input", function () {
        if (input.value) adapters[m[0]] = input.value; else delete adapters[m[0]];
        changed();
      });
      maps.appendChild(input);
    });
    var paused = el("select", { "aria-label": "Asterisk queue pause", class: SLDS.select });
    [["", "Asterisk: —"], ["true", "paused"], ["false", "not paused"]].forEach(function (o) {
      paused.appendChild(el("option", { value: o[0], text: o[1] }));
    });
    paused.value = adapters.asterisk && typeof adapters.asterisk.paused === "boolean" ? String(adapters.asterisk.paused) : "";
    paused.addEventListener("change", function () {
      if (paused.value === "") delete adapters.asterisk; else adapters.asterisk = { paused: paused.value === "true" };
      changed();
    });
    maps.appendChild(SLDS.selectBox(paused));
    var count = Object.keys(adapters).length;
    var mappings = el("details", { class: "mappings" }, [
      el("summary", { text: count ? count + " mapping" + (count > 1 ? "s" : "") + ": " + Object.keys(adapters).join(", ") : "None" }),
      maps]);

    var move = function (delta) {
      var j = i + delta;
      if (j < 0 || j >= draft.states.length) return;
      var tmp = draft.states[i]; draft.states[i] = draft.states[j]; draft.states[j] = tmp;
      var a = autoIds[i]; autoIds[i] = autoIds[j]; autoIds[j] = a;
      renderStates(); changed();
      var again = $("states").querySelectorAll("tbody tr")[j];
      if (again) again.querySelector(delta < 0 ? ".up" : ".down").focus();
    };
    var order = el("div", { class: "actions" }, [
      el("button", { type: "button", class: "slds-button slds-button_icon slds-button_icon-border-filled up", text: "↑", "aria-label": "Move " + (state.label || "state") + " up", onclick: function () { move(-1); } }),
      el("button", { type: "button", class: "slds-button slds-button_icon slds-button_icon-border-filled down", text: "↓", "aria-label": "Move " + (state.label || "state") + " down", onclick: function () { move(1); } })
    ]);
    var remove = el("button", { type: "button", class: SLDS.danger + " remove-state", text: "Remove", "aria-label": "Remove " + (state.label || "state"),
      onclick: function () {
        draft.states.splice(i, 1);
        var next = {}; Object.keys(autoIds).forEach(function (k) { k = Number(k); if (k < i) next[k] = autoIds[k]; else if (k > i) next[k - 1] = autoIds[k]; });
        autoIds = next;
        renderStates(); changed();
      } });
    var tag = el("span", { class: "slds-badge slds-badge_lightest system-tag hidden", title: "The connector moves agents into this state or records it: " +
                           "it cannot be removed and its id and status cannot change", text: "System state" });
    var cell = function (node) { return el("td", {}, [node]); };
    return el("tr", { "data-index": i, "data-state": state.id || "" },
              [cell(order), cell(label), cell(id), cell(SLDS.selectBox(status)), cell(code), cell(colour), cell(pick), cell(alerts),
               cell(mappings), el("td", {}, [remove, tag])]);
  }

  // the org's Omni-Channel statuses to pick from (a value the org lacks stays, marked, so nothing is lost)
  function omniSelect(adapters, value, label) {
    var select = el("select", { "aria-label": label, "data-mapping": "omni_channel", class: SLDS.select });
    select.appendChild(el("option", { value: "", text: "Omni-Channel: —" }));
    omniStatuses.forEach(function (st) {
      select.appendChild(el("option", { value: st.developer_name, text: st.label + " (" + st.developer_name + ")" }));
    });
    if (value && !omniStatuses.some(function (st) { return st.developer_name === value; })) {
      select.appendChild(el("option", { value: value, text: value + " (not in the org)" }));
    }
    select.value = value;
    select.addEventListener("change", function () {
      if (select.value) adapters.omni_channel = select.value; else delete adapters.omni_channel;
      changed();
    });
    return select;
  }

  function renderStates() {
    var body = $("states").querySelector("tbody");
    body.textContent = "";
    draft.states.forEach(function (st, i) { body.appendChild(stateRow(st, i)); });
    applyLocks();
    renderInbound();
    showProblems(lastProblems);
  }

  function renderOptions() {
    $("config-name").value = draft.name || "";
    document.querySelectorAll('#panel-states [data-field^="options."]').forEach(function (input) {
      if (input.tagName === "FIELDSET") return;
      var value = getPath(input.getAttribute("data-field"));
      if (input.type === "checkbox") input.checked = !!value;
      else if (input.hasAttribute("data-duration")) input.value = showDuration(value);
      else input.value = value === undefined || value === null ? "" : value;
    });
    var box = $("logout-statuses"), allowed = getPath("options.session.logout_allowed_statuses") || [];
    box.querySelectorAll("label").forEach(function (n) { n.remove(); });
    STATUSES.forEach(function (s) {
      var check = el("input", { type: "checkbox", value: s[0] });
      check.checked = allowed.indexOf(s[0]) >= 0;
      check.addEventListener("change", function () {
        var list = [];
        box.querySelectorAll("input").forEach(function (c) { if (c.checked) list.push(Number(c.value)); });
        setPath("options.session.logout_allowed_statuses", list);
        changed();
      });
      box.appendChild(SLDS.checkbox(check, s[0] + " " + s[1]));
    });
  }

  function load(config, note) {
    draft = JSON.parse(JSON.stringify(config));
    draft.options = draft.options || {};
    draft.options.session = draft.options.session || {};
    autoIds = {};
    inboundRows = {};
    lastProblems = [];
    renderOptions();
    renderStates();
    if (note) setStatus(note, "dirty");
  }

  // -- inbound rules: per source (teams, omni-channel, pbx ...) the `inbound:` section, the fields the rules
  //    engine reads (connector/presence/inbound_rules.py); the server validates them like the rest ---------------
  var INBOUND_DEFAULTS = { apply: true, over_call: "next", after_own_pick_seconds: 0, over_supervisor: true,
                           on_end: "stay", leads: "remote", conflict_seconds: 5 };
  var inboundRows = {};  // source -> [[remote presence, state id], ...]: the map as rows, in the order shown

  function sourceName(source) {
    var known = inboundSources.filter(function (s) { return s.source === source; })[0];
    return known ? known.name : source;
  }

  function renderInbound() {
    var box = $("inbound-rules");
    if (!box || !draft) return;
    var rules = draft.inbound || {};
    box.textContent = "";
    Object.keys(rules).forEach(function (source) { box.appendChild(inboundRule(source, rules[source])); });
    if (!Object.keys(rules).length) box.appendChild(el("p", { class: "muted", text: "No inbound rules: every source keeps the default." }));
    var select = $("inbound-source");
    select.textContent = "";
    inboundSources.forEach(function (s) {
      if (!rules[s.source]) select.appendChild(el("option", { value: s.source, text: s.name + " (" + s.source + ")" }));
    });
    $("add-inbound").disabled = !select.options.length;
  }

  function inboundRule(source, rule) {
    var who = sourceName(source), base = "inbound." + source + ".";
    var field = function (key, node) { node.setAttribute("data-field", base + key); return node; };
    var set = function (key, value) {
      if (value === undefined || value === "") delete rule[key]; else rule[key] = value;
      changed();
    };
    var check = function (key, text) {
      var input = field(key, el("input", { type: "checkbox" }));
      input.checked = rule[key] !== undefined ? !!rule[key] : INBOUND_DEFAULTS[key];
      input.addEventListener("change", function () { set(key, input.checked); });
      return SLDS.checkbox(input, text);
    };
    var choose = function (key, text, options) {
      var select = field(key, el("select", { class: SLDS.select }));
      options.forEach(function (o) { select.appendChild(el("option", { value: o[0], text: o[1] })); });
      select.value = rule[key] || INBOUND_DEFAULTS[key];
      select.addEventListener("change", function () { set(key, select.value); });
      return el("label", { class: "slds-form-element" }, [el("span", { class: "slds-form-element__label", text: text + " " }), SLDS.selectBox(select)]);
    };
    var seconds = function (key, text) {
      var input = field(key, el("input", { type: "text", inputmode: "numeric", class: SLDS.input + " duration", size: 6,
                                           value: showDuration(rule[key] !== undefined ? rule[key] : INBOUND_DEFAULTS[key]) }));
      input.addEventListener("input", function () { set(key, readDuration(input.value)); });
      return el("label", { class: "slds-form-element" }, [el("span", { class: "slds-form-element__label", text: text + " " }), input]);
    };

    // the remote presence -> state rows
    var rows = inboundRows[source];
    if (!rows) {
      rows = inboundRows[source] = Object.keys(rule.map || {}).map(function (k) { return [k, rule.map[k]]; });
    }
    var writeMap = function () {
      var map = {};
      rows.forEach(function (r) { if (!(r[0] in map)) map[r[0]] = r[1]; });
      if (rows.length) rule.map = map; else delete rule.map;
      changed();
    };
    var table = el("table", { class: SLDS.table + " inbound-map" }, [
      el("caption", { text: "Remote presence → state (empty: the states' own " + who + " mappings decide)" }),
      el("thead", {}, [el("tr", {}, [el("th", { text: "Remote presence" }), el("th", { text: "State" }), el("th", {}, [el("span", { class: "slds-assistive-text", text: "Actions" })])])])
    ]);
    var tbody = el("tbody");
    rows.forEach(function (row, i) {
      var remote = el("input", { type: "text", class: SLDS.input, value: row[0], "aria-label": who + " presence, row " + (i + 1), size: 16 });
      if (source === "teams") remote.setAttribute("list", "teams-presences");
      var state = el("select", { class: SLDS.select, "aria-label": "State for " + who + " presence, row " + (i + 1),
                                 "data-field": base + "map." + row[0] });
      var known = false;
      draft.states.forEach(function (st) {
        if (st.selectable === false || !st.id) return;
        state.appendChild(el("option", { value: st.id, text: (st.label || st.id) + " (" + st.id + ")" }));
        if (st.id === row[1]) known = true;
      });
      if (row[1] && !known) state.appendChild(el("option", { value: row[1], text: row[1] + " (no such selectable state)" }));
      state.value = row[1] || (state.options[0] ? state.options[0].value : "");
      row[1] = state.value;
      remote.addEventListener("input", function () {
        row[0] = remote.value; state.setAttribute("data-field", base + "map." + remote.value); writeMap();
      });
      state.addEventListener("change", function () { row[1] = state.value; writeMap(); });
      var drop = el("button", { type: "button", class: SLDS.danger, text: "Remove", "aria-label": "Remove " + who + " mapping row " + (i + 1),
        onclick: function () { rows.splice(i, 1); writeMap(); renderInbound(); } });
      tbody.appendChild(el("tr", {}, [el("td", {}, [remote]), el("td", {}, [SLDS.selectBox(state)]), el("td", {}, [drop])]));
    });
    table.appendChild(tbody);
    var addRow = el("button", { type: "button", class: SLDS.button, text: "Add mapping", "aria-label": "Add a " + who + " mapping row",
      onclick: function () {
        rows.push(["", ""]); writeMap(); renderInbound();
        var inputs = $("inbound-rules").querySelectorAll('[data-source="' + CSS.escape(source) + '"] .inbound-map tbody input');
        if (inputs.length) inputs[inputs.length - 1].focus();
      } });
    var mapBox = field("map", el("div", { class: "inbound-map-box" }, [table, addRow]));

    var statuses = field("from_statuses", el("fieldset", { class: "inbound-statuses" }, [
      el("legend", { text: "Only from statuses (none checked: from any)" })]));
    var allowed = rule.from_statuses || [];
    STATUSES.forEach(function (s) {
      var box = el("input", { type: "checkbox", value: s[0] });
      box.checked = allowed.indexOf(s[0]) >= 0;
      box.addEventListener("change", function () {
        var list = [];
        statuses.querySelectorAll("input").forEach(function (c) { if (c.checked) list.push(Number(c.value)); });
        set("from_statuses", list.length ? list : undefined);
      });
      statuses.appendChild(SLDS.checkbox(box, s[0] + " " + s[1]));
    });

    var remove = el("button", { type: "button", class: SLDS.danger, text: "Remove rule", "aria-label": "Remove the inbound rule for " + who,
      onclick: function () { delete draft.inbound[source]; delete inboundRows[source]; renderInbound(); changed(); } });
    return el("fieldset", { class: "inbound-rule", "data-source": source }, [
      el("legend", { text: "From " + who + " (" + source + ")" }),
      el("div", { class: "options-grid" }, [
        check("apply", "Apply changes from " + who),
        choose("over_call", "During a call or wrap-up", [["next", "as the next state (after the call)"], ["never", "never: refused"]]),
        seconds("after_own_pick_seconds", "Not within (min or m:ss) of the agent's own pick, 0 = off"),
        check("over_supervisor", "May replace a supervisor's state"),
        choose("on_end", "When the remote condition ends", [["return", "return to the state before it"], ["stay", "the agent stays"]]),
        choose("leads", "When both change at once", [["remote", "the " + who + " change applies"], ["connector", "the connector's change stands"]]),
        seconds("conflict_seconds", "\"At once\" means within (min or m:ss)")
      ]),
      mapBox, statuses, remove]);
  }

  $("add-inbound").addEventListener("click", function () {
    var source = $("inbound-source").value;
    if (!source) return;
    draft.inbound = draft.inbound || {};
    draft.inbound[source] = JSON.parse(JSON.stringify(INBOUND_DEFAULTS));
    inboundRows[source] = [];
    renderInbound(); changed();
    var added = $("inbound-rules").querySelector('[data-source="' + CSS.escape(source) + '"] input');
    if (added) added.focus();
  });

  // -- validation ------------------------------------------------------------------------------------
  function clearMarks() {
    document.querySelectorAll("#panel-states .invalid").forEach(function (n) { n.classList.remove("invalid"); n.removeAttribute("aria-invalid"); });
    document.querySelectorAll("#panel-states .field-error").forEach(function (n) { n.remove(); });
  }

  function rowFor(stateRef) {
    var rows = $("states").querySelectorAll("tbody tr");
    var m = /^states\[(\d+)\]$/.exec(stateRef || "");
    if (m) return rows[Number(m[1])];
    for (var i = 0; i < draft.states.length; i++) if (draft.states[i].id === stateRef) return rows[i];
    return null;
  }

  function mark(target, why) {
    if (!target) return false;
    var input = target.matches("input, select, fieldset") ? target : target.querySelector("input, select") || target;
    var folded = input.closest("details");
    if (folded) folded.open = true;
    input.classList.add("invalid");
    input.setAttribute("aria-invalid", "true");
    var note = el("span", { class: "field-error", text: why });
    (input.closest("td") || input.closest("label") || input.parentNode).appendChild(note);
    return true;
  }

  /** What the page itself refuses: a remote presence listed twice in one inbound rule (the draft's map keeps one). */
  function localProblems() {
    var found = [];
    Object.keys(inboundRows).forEach(function (source) {
      var seen = {};
      (inboundRows[source] || []).forEach(function (row) {
        if (row[0] && seen[row[0]]) found.push({ state: null, field: "inbound." + source + ".map." + row[0],
          why: "'" + row[0] + "' is listed twice; each remote presence maps to one state", local: true });
        seen[row[0]] = true;
      });
    });
    return found;
  }

  function showProblems(problems) {
    lastProblems = (problems || []).filter(function (p) { return !p.local; }).concat(localProblems());
    clearMarks();
    var box = $("problems");
    box.textContent = "";
    box.classList.toggle("hidden", !lastProblems.length);
    if (!lastProblems.length) return;
    box.appendChild(el("strong", { text: "This configuration cannot be applied:" }));
    var list = el("ul");
    lastProblems.forEach(function (p) {
      var where = p.state ? "state '" + p.state + "', " : "";
      list.appendChild(el("li", { text: where + p.field + ": " + p.why }));
      var row = p.state ? rowFor(p.state) : null;
      if (row) mark(row.querySelector('[data-key="' + p.field + '"]'), p.why);
      else if (!p.state) mark(document.querySelector('#panel-states [data-field="' + CSS.escape(p.field) + '"]'), p.why);
    });
    box.appendChild(list);
  }

  function problemsOf(err) {
    if (err.body && err.body.error && err.body.error.problems) return err.body.error.problems;
    return [{ file: "", state: null, field: err.field || "config", why: err.message }];
  }

  function payload() {
    return JSON.parse(JSON.stringify(draft));
  }

  function validate() {
    validateTimer = null;
    return PC.api("POST", "/admin/api/config/validate", { config: payload() })
      .then(function () { showProblems([]); return true; },
            function (err) { showProblems(problemsOf(err)); return false; });
  }

  // -- actions ----------------------------------------------------------------------------------------
  document.querySelectorAll('#panel-states [data-field^="options."]').forEach(function (input) {
    if (input.tagName === "FIELDSET") return;
    input.addEventListener(input.tagName === "SELECT" || input.type === "checkbox" ? "change" : "input", function () {
      setPath(input.getAttribute("data-field"), readInput(input));
      changed();
    });
  });
  $("config-name").addEventListener("input", function () { draft.name = $("config-name").value; changed(); });

  $("add-state").addEventListener("click", function () {
    draft.states.push({ id: "", label: "", status: 3, colour: "#546e7a", selectable: true });
    autoIds[draft.states.length - 1] = true;
    renderStates();
    var rows = $("states").querySelectorAll("tbody tr");
    rows[rows.length - 1].querySelector('[data-key="label"]').focus();
    setStatus("Unsaved changes", "dirty");
  });

  // -- review, then apply ------------------------------------------------------------------------------
  var WHAT = { added: "State added", removed: "State removed", changed: "State changed", moved: "States reordered",
               option: "Option changed", name: "Name changed", inbound: "Inbound rule" };

  function shown(field, value) {
    if (value === null || value === undefined) return "—";
    if (/_seconds$/.test(field) && typeof value === "number") return showDuration(value) + " (m:ss)";
    if (field === "alert_after_seconds" && Array.isArray(value)) return value.map(showDuration).join(", ") + " (m:ss)";
    if (Array.isArray(value)) return value.join(", ");
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function showReview(changes) {
    var body = $("review-changes").querySelector("tbody");
    body.textContent = "";
    changes.forEach(function (c) {
      body.appendChild(el("tr", { class: "change-" + c.what }, [
        el("td", { text: WHAT[c.what] || c.what }), el("td", { text: c.item }), el("td", { class: "code", text: c.field }),
        el("td", { text: shown(c.field, c.before) }), el("td", { text: shown(c.field, c.after) })]));
    });
    $("review-changes").classList.toggle("hidden", !changes.length);
    $("review-summary").textContent = changes.length ?
      changes.length + " change" + (changes.length > 1 ? "s" : "") + " to the active configuration. Agents see them as soon as they are applied." :
      "Nothing to apply: the draft is the active configuration.";
    $("review-apply").disabled = !changes.length;
    $("review").showModal();
  }

  $("save").addEventListener("click", function () {
    if (validateTimer) { clearTimeout(validateTimer); validateTimer = null; }
    PC.api("POST", "/admin/api/config/validate", { config: payload() }).then(function (res) {
      showProblems([]);
      if (lastProblems.length) { setStatus("Not saved: fix the problems shown.", "dirty"); return; }
      showReview(res.changes);
    }, function (err) {
      showProblems(problemsOf(err));
      setStatus("Not saved: fix the problems shown.", "dirty");
    });
  });

  $("review-cancel").addEventListener("click", function () { $("review").close(); });

  $("review-apply").addEventListener("click", function () {
    $("review-apply").disabled = true;
    PC.api("POST", "/admin/api/config", { config: payload() }).then(function (res) {
      $("review").close();
      load(res.config);
      setStatus("Saved and applied as version " + res.version + ". Agents see it at once.", "ok");
      loadHistory();
    }, function (err) {
      $("review").close();
      showProblems(problemsOf(err));
      setStatus("Not saved: fix the problems shown.", "dirty");
    });
  });

  $("load-preset").addEventListener("click", function () {
    var name = $("preset").value;
    if (!name) { setStatus("Choose a preset to load.", "dirty"); return; }
    PC.api("POST", "/admin/api/config/import", { preset: name }).then(function (res) {
      load(res.config, "Loaded preset '" + name + "' — check it, then Review changes.");
    }, function (err) { showProblems(problemsOf(err)); });
  });

  $("yaml-file").addEventListener("change", function () {
    var file = $("yaml-file").files[0];
    if (!file) return;
    file.text().then(function (text) {
      return PC.api("POST", "/admin/api/config/import", { yaml: text, filename: file.name });
    }).then(function (res) {
      load(res.config, "Loaded " + file.name + " — check it, then Review changes.");
    }, function (err) {
      showProblems(problemsOf(err));
      setStatus(file.name + " was not loaded.", "dirty");
    });
  });

  function loadHistory(data) {
    var promise = data ? Promise.resolve(data) : PC.api("GET", "/admin/api/config");
    return promise.then(function (res) {
      systemIds = res.system_states || {};
      inboundSources = res.inbound_sources || [];
      if (draft) renderInbound();
      if (draft) applyLocks();
      $("config-version").textContent = res.version ? "Active: version " + res.version + " (" + res.history[0].created_by + ")" : "";
      var body = $("history").querySelector("tbody");
      body.textContent = "";
      if (!res.history.length) body.appendChild(el("tr", {}, [el("td", { colspan: 5, class: "muted", text: "No versions saved yet: the configuration comes from CONNECTOR_PRESENCE_CONFIG." })]));
      res.history.forEach(function (h) {
        body.appendChild(el("tr", {}, [el("td", { text: String(h.version) }), el("td", { text: h.name }),
          el("td", { text: h.created_by }), el("td", { text: h.origin }),
          el("td", { text: new Date(h.created_at).toLocaleString() })]));
      });
      return res;
    });
  }

  // the org's statuses, when Salesforce is connected; free text otherwise (the reason is shown)
  PC.api("GET", "/admin/api/omni-channel/statuses").then(function (res) {
    var note = $("omni-statuses-note");
    if (res.statuses.length) {
      omniStatuses = res.statuses;
      if (draft) renderStates();
    }
    if (note) {
      note.textContent = res.statuses.length ? "Omni-Channel statuses: " + res.statuses.length + " read from Salesforce." :
        res.configured ? "Omni-Channel statuses could not be read from Salesforce (" + (res.error || "none found") + "); type the DeveloperName." :
        "Salesforce is not connected: type the Omni-Channel status DeveloperName.";
    }
  }, function () { /* the editor keeps free text */ });

  loadHistory().then(function (res) {
    var preset = $("preset");
    // the list starts at the preset that is active (or says the active configuration is not one)
    if (!res.active_preset) preset.appendChild(el("option", { value: "", text: "— active: " + res.config.name + " (not a preset)", disabled: true }));
    res.presets.forEach(function (p) {
      preset.appendChild(el("option", { value: p, text: p + (p === res.active_preset ? " (active)" : "") }));
    });
    preset.value = res.active_preset || "";
    load(res.config);
    setStatus("");
  }, function (err) { setStatus(err.message); });
})();
