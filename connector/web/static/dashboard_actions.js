/* The grid's row menu (change state, log out, end a stuck call) and its dialogs.

   One menu for the whole grid, opened from a row's "⋯" button: arrow keys move, Escape closes and
   gives the focus back to the button. Changing the state of an agent on a call asks "After the call"
   (stored as the agent's next state) or "Now" (forced); the result is said in the page. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var menu = $("row-menu"), tbody = $("agents").querySelector("tbody");
  var menuAgent = null;        // the agent the open menu (or dialog) is about
  var confirmAction = null;

  function note(text) {
    $("grid-note").textContent = text;
    $("grid-message").classList.add("hidden");
  }

  function showError(box, text) {
    box.textContent = text || "";
    box.classList.toggle("hidden", !text);
  }

  function rowButton(agentId) {
    return tbody.querySelector('tr[data-agent="' + CSS.escape(agentId) + '"] [data-control="menu"]');
  }

  function focusRow(agentId) {
    var button = agentId && rowButton(agentId);
    if (button) button.focus();
  }

  // -- the menu ------------------------------------------------------------------------------------
  function items() { return Array.prototype.filter.call(menu.querySelectorAll("[role=menuitem]"), function (b) { return !b.hidden; }); }

  function openMenu(button, agentId) {
    var a = PCGrid.agent(agentId);
    if (!a) return;
    closeMenu(false);
    menuAgent = agentId;
    menu.setAttribute("aria-label", "Actions for " + (a.name || a.id));
    menu.querySelector('[data-action="end-call"]').hidden = !PCGrid.onCall(a);
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    var r = button.getBoundingClientRect();
    menu.style.top = (window.scrollY + r.bottom + 2) + "px";
    menu.style.left = Math.max(8, window.scrollX + r.right - menu.offsetWidth) + "px";
    items()[0].focus();
  }

  function closeMenu(refocus) {
    if (menu.hidden) return;
    menu.hidden = true;
    tbody.querySelectorAll('[data-control="menu"][aria-expanded="true"]').forEach(function (b) { b.setAttribute("aria-expanded", "false"); });
    if (refocus) focusRow(menuAgent);
  }

  tbody.addEventListener("click", function (ev) {
    var button = ev.target.closest('[data-control="menu"]');
    if (!button) return;
    var agentId = button.closest("tr").getAttribute("data-agent");
    if (!menu.hidden && menuAgent === agentId) closeMenu(true); else openMenu(button, agentId);
  });
  tbody.addEventListener("keydown", function (ev) {
    var button = ev.target.closest('[data-control="menu"]');
    if (button && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) {
      ev.preventDefault();
      openMenu(button, button.closest("tr").getAttribute("data-agent"));
    }
  });
  menu.addEventListener("keydown", function (ev) {
    var list = items(), at = list.indexOf(document.activeElement);
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      list[(at + (ev.key === "ArrowDown" ? 1 : list.length - 1)) % list.length].focus();
    } else if (ev.key === "Home" || ev.key === "End") {
      ev.preventDefault();
      list[ev.key === "Home" ? 0 : list.length - 1].focus();
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      closeMenu(true);
    } else if (ev.key === "Tab") {
      closeMenu(false);
    }
  });
  document.addEventListener("mousedown", function (ev) {
    if (!menu.hidden && !menu.contains(ev.target) && !ev.target.closest('[data-control="menu"]')) closeMenu(false);
  });
  menu.addEventListener("click", function (ev) {
    var item = ev.target.closest("[data-action]");
    var a = item && PCGrid.agent(menuAgent);
    if (!a) return;
    closeMenu(false);
    var action = item.getAttribute("data-action");
    if (action === "state") openStateDialog(a);
    else if (action === "logout") {
      openConfirm("Log " + a.name + " out?", a.name + " is logged out of presence on every device now.", "Log out",
                  "/api/v1/agents/" + encodeURIComponent(a.id) + "/logout", a.name + ": logged out.");
    } else if (action === "end-call") {
      openConfirm("End " + a.name + "'s call?",
                  "Use this when the call is over but the phone system never said so: the call is closed now and wrap-up follows.",
                  "End the call", "/api/v1/agents/" + encodeURIComponent(a.id) + "/calls/end", a.name + ": call ended.");
    }
  });

  // -- change state ------------------------------------------------------------------------------
  var stateDialog = $("state-dialog"), pick = $("state-pick");

  function openStateDialog(a) {
    menuAgent = a.id;
    var busy = PCGrid.onCall(a);
    $("state-dialog-title").textContent = "Change state · " + (a.name || a.id);
    var now = a.state ? "Now " + a.state.display + " for " + PC.duration((PCGrid.now() - a._since) / 1000) : "";
    if (a.next_state) now += " · next: " + a.next_state.label;
    $("state-dialog-now").textContent = now;
    pick.replaceChildren(PC.el("option", { value: "", text: "Choose a state…" }));
    PCGrid.model.states.filter(function (s) { return s.selectable; }).forEach(function (s) {
      pick.appendChild(PC.el("option", { value: s.id, text: s.display }));
    });
    pick.value = "";
    $("state-when").hidden = !busy;
    stateDialog.querySelector('input[name="when"][value="after"]').checked = true;
    showError($("state-dialog-error"), "");
    pick.removeAttribute("aria-invalid");
    stateDialog.showModal();
    pick.focus();
  }

  $("state-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var a = PCGrid.agent(menuAgent), stateId = pick.value;
    if (!a || !stateId) {
      showError($("state-dialog-error"), "Choose the new state.");
      pick.setAttribute("aria-invalid", "true");
      pick.focus();
      return;
    }
    pick.removeAttribute("aria-invalid");
    var busy = PCGrid.onCall(a), force = busy && stateDialog.querySelector('input[name="when"]:checked').value === "now";
    var body = { state: stateId };
    if (force) body.force = true;
    var label = (PCGrid.stateById(stateId) || { label: stateId }).label;
    $("state-apply").disabled = true;
    PC.api("PUT", "/api/v1/agents/" + encodeURIComponent(a.id) + "/presence", body).then(function (view) {
      $("state-apply").disabled = false;
      PCGrid.remember(view);
      stateDialog.close();
      var after = view.next_state && (view.next_state.id || view.next_state) === stateId;
      note((a.name || a.id) + ": " + (after ? label + " after the call." : "now " + label + "."));
    }, function (err) {
      $("state-apply").disabled = false;
      showError($("state-dialog-error"), err.message);
    });
  });

  // -- log out, end a call -------------------------------------------------------------------------
  var confirmDialog = $("confirm-dialog");

  function openConfirm(title, text, verb, path, done) {
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-apply").textContent = verb;
    showError($("confirm-error"), "");
    confirmAction = { path: path, done: done };
    confirmDialog.showModal();
    $("confirm-apply").focus();
  }

  $("confirm-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var action = confirmAction;
    if (!action) return;
    $("confirm-apply").disabled = true;
    PC.api("POST", action.path, {}).then(function (view) {
      $("confirm-apply").disabled = false;
      PCGrid.remember(view);
      confirmDialog.close();
      note(action.done);
    }, function (err) {
      $("confirm-apply").disabled = false;
      showError($("confirm-error"), err.message);
    });
  });

  [stateDialog, confirmDialog].forEach(function (dialog) {
    dialog.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { focusRow(menuAgent); });
  });
})();
