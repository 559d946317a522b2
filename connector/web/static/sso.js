/* Single sign-on in the pages (README "Single sign-on").
   On the sign-in page: inside the Salesforce console (an iframe, or a page the server knows is embedded) the
   provider's sign-in runs in a popup, because the iframe's cookies are kept apart from the top-level site's;
   the popup hands back a one-use sign-in code, accepted only from a window of our own origin that we opened,
   and this page redeems it for a session in its own cookie.
   On the popup's last page: the code goes to the window that opened it (postMessage restricted to our own
   origin), or, when there is none, is redeemed right here. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function redeem(code) {
    return fetch("/auth/oidc/redeem", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ code: code })
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error((body.error && body.error.message) || "sign-in failed");
        return body.next;
      });
    });
  }

  var handoff = document.getElementById("sso-handoff");
  if (handoff) {
    var code = handoff.getAttribute("data-code");
    var status = document.getElementById("sso-status");
    if (window.opener && !window.opener.closed) {
      window.opener.postMessage({ type: "presence-sso", code: code }, window.location.origin);
      status.textContent = "Signed in. This window closes by itself.";
      window.setTimeout(function () { window.close(); }, 500);
    } else {
      redeem(code).then(function (next) { window.location.assign(next); },
                        function (err) { status.textContent = err.message; });
    }
    return;
  }

  var start = document.getElementById("sso-start");
  if (!start) return;
  var message = document.getElementById("sso-message");
  var popup = null;
  function show(text) {
    if (!message) return;
    message.textContent = text;
    message.classList.toggle("hidden", !text);
  }
  var embedded = start.getAttribute("data-popup") === "1" || window.top !== window.self;
  if (!embedded || !message) return; // a plain link: the whole page goes to the provider and back

  start.addEventListener("click", function (event) {
    event.preventDefault();
    var url = new URL(start.href, window.location.href);
    url.searchParams.set("popup", "1");
    popup = window.open(url.toString(), "presence-sso", "popup,width=520,height=700");
    show(popup ? "" : "Allow pop-ups for this site to sign in with single sign-on.");
  });

  window.addEventListener("message", function (event) {
    if (event.origin !== window.location.origin || !popup || event.source !== popup) return;
    var data = event.data || {};
    if (data.type !== "presence-sso" || typeof data.code !== "string") return;
    popup = null;
    redeem(data.code).then(function (next) { window.location.assign(next); },
                           function (err) { show(err.message); });
  });
})();
