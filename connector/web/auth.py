"""Signing in to the pages: users with username + password, agents with agent id + PIN, and both with the
organisation's OpenID Connect provider (single sign-on; README "Single sign-on").

Single sign-on is the authorization code flow with PKCE (S256), ``state`` and ``nonce``, run by Authlib's
Flask client (https://docs.authlib.org/en/latest/client/flask.html): the state, nonce and code verifier
wait in the signed session cookie between ``/auth/oidc/start`` and ``/auth/oidc/callback``; the ID token's
signature (the provider's published keys), issuer, audience (our client id), expiry and nonce are checked
before :func:`connector.auth.oidc.match` finds the account. No password hash is computed on this path.

The softphone inside the Salesforce console is a third-party iframe whose cookies the browser may keep
apart from the top-level site's (partitioned, or blocked), so it signs in through a popup: the popup runs
the flow first-party, and its callback page hands the iframe a one-use sign-in code with
``postMessage`` restricted to our own origin; the iframe redeems the code (``/auth/oidc/redeem``) for a
session in its own cookie.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError

from connector.auth import accounts
from connector.auth import page_sessions as web_sessions
from connector.auth.oidc import SingleSignOn, SsoRefused, match
from connector.errors import TooManyAttempts
from connector.parts import get_parts
from connector.web.guard import csrf_token

log = logging.getLogger(__name__)
#: a popup's sign-in code is redeemed within this many seconds, once
HANDOFF_SECONDS = 60

bp = Blueprint("auth", __name__, url_prefix="/auth")

HOME = {"agent": "/softphone", "supervisor": "/dashboard", "admin": "/admin", "integration": "/"}


def _next_url(default: str) -> str:
    """Only a local path may be the place to go after signing in (no open redirect)."""
    target = request.values.get("next") or ""
    parts = urlsplit(target)
    if (
        target.startswith("/")
        and not target.startswith("//")
        and not parts.scheme
        and not parts.netloc
        and "\\" not in target
    ):
        return target
    return default


def _start_session(principal: accounts.Principal, with_pin: bool, via: str = "") -> None:
    """A fresh page session for ``principal``. ``with_pin`` marks an agent's session (a PIN reset or disabling the agent ends it); ``via`` is "sso"
    for single sign-on."""
    embedded = session.get("embedded", False)
    web_sessions.end(get_parts().store, session.get("sid"), get_parts().clock(), "signed_in_again")
    session.clear()  # a fresh session (and CSRF token) on every sign-in: no session fixation
    session["sid"] = web_sessions.start(
        get_parts().store, get_parts().clock(), principal.name, principal.role, with_pin
    )
    session["principal"] = {"name": principal.name, "role": principal.role, "agent_id": principal.agent_id}
    session["embedded"] = embedded
    session["with_pin"] = with_pin
    if via:
        session["via"] = via
    session.permanent = False
    csrf_token()


def _remember_embedding() -> None:
    if "sfdcIframeOrigin" in (request.values.get("next") or "") or request.args.get("sfdcIframeOrigin"):
        session["embedded"] = True


def _sign_in_page(mode: str, check, fields: tuple[str, str], home) -> object:
    """The sign-in form of ``mode``; ``check(store, name, secret)`` returns the principal or None.

    Tries go through the guessing limits (connector/auth/limits.py): per account at this address and per
    client address; no number of failures locks the account (only an admin can).
    """
    _remember_embedding()
    error, status, headers = None, 200, {}
    name = request.form.get(fields[0], "").strip()
    pin_off = mode == "agent" and not get_parts().settings.value("CONNECTOR_PIN_SIGNIN")
    if pin_off and request.method == "POST":
        error, status = "Signing in with a PIN is switched off here; use single sign-on.", 403
    elif request.method == "POST":
        parts = get_parts()
        account = f"{'agent' if mode == 'agent' else 'user'}:{name}"
        try:
            principal = parts.sign_in.attempt(
                account, request.remote_addr or "", lambda: check(parts.store, name, request.form.get(fields[1], ""))
            )
        except TooManyAttempts as exc:
            error, status = f"Too many failed sign-ins. Try again in {exc.retry_after} s.", 429
            if exc.code == "account_locked":
                error = "An admin has locked this account; ask an admin to unlock it."
            headers["Retry-After"] = str(exc.retry_after)
        else:
            if principal is not None:
                _start_session(principal, with_pin=mode == "agent")
                return redirect(_next_url(home(principal)))
            error, status = (
                ("Unknown agent id or wrong PIN." if mode == "agent" else "Unknown username or wrong password."),
                401,
            )
    sso = get_parts().sso
    return (
        render_template(
            "sign_in.html",
            mode=mode,
            error=error,
            next=_next_url(""),
            pin_signin=not pin_off,
            sso_name=sso.settings.name if sso else "",
            sso_popup=bool(session.get("embedded")),
            **{fields[0]: name},
        ),
        status,
        headers,
    )


@bp.route("/login", methods=("GET", "POST"))
def sign_in():
    """Users (supervisors, admins, agents with a user account)."""
    return _sign_in_page("user", accounts.authenticate_user, ("username", "password"), lambda p: HOME.get(p.role, "/"))


@bp.route("/agent", methods=("GET", "POST"))
def agent_sign_in():
    """Agents with their agent id and PIN (the softphone's own sign-in)."""
    return _sign_in_page(
        "agent", accounts.authenticate_agent_pin, ("agent_id", "pin"), lambda p: url_for("softphone.page")
    )


@bp.post("/logout")
def sign_out():
    """Ends the page session (and its event streams). After a single sign-on the provider's session is ended
    too when it offers RP-initiated logout (``end_session_endpoint``), then the browser comes back here."""
    role = (session.get("principal") or {}).get("role")
    via = session.get("via")
    embedded = session.get("embedded")
    web_sessions.end(get_parts().store, session.get("sid"), get_parts().clock())
    session.clear()
    back = url_for("auth.agent_sign_in") if role == "agent" else url_for("auth.sign_in")
    sso = get_parts().sso
    if via == "sso" and sso is not None and not embedded:
        try:
            end_session = sso.metadata().get("end_session_endpoint")
        except (SsoRefused, requests.RequestException, ValueError):
            end_session = None
        if end_session:
            query = {
                "client_id": sso.settings.client_id,
                "post_logout_redirect_uri": request.host_url.rstrip("/") + back,
            }
            return redirect(f"{end_session}{'&' if '?' in end_session else '?'}{urlencode(query)}")
    return redirect(back)


# -- single sign-on (OpenID Connect) ----------------------------------------------------------------------


def _sso() -> SingleSignOn:
    sso = get_parts().sso
    if sso is None:
        raise SsoRefused("Single sign-on is not set up here (CONNECTOR_OIDC_ISSUER).", "not_configured", status=404)
    return sso


def _handoffs() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_parts().settings.secret_key, salt="sso-popup-handoff")


def _refusal(message: str, reason: str, status: int, popup: bool = False):
    """The clear page a refused single sign-on ends on (the reason is logged; no token is)."""
    log.info("single sign-on refused: %s", reason)
    return (
        render_template("sso_error.html", status=status, message=message, popup=popup),
        status,
        {"Cache-Control": "no-store"},
    )


@bp.get("/oidc/start")
def oidc_start():
    """To the provider's sign-in page. ``as=agent`` prefers the agent account (the softphone),
    ``popup=1`` ends in the hand-over page of the embedded softphone's popup."""
    try:
        sso = _sso()
        sso.metadata()  # discovery now: an unreachable or misconfigured provider is a clear page, not a 500
    except SsoRefused as refused:
        return _refusal(refused.message, refused.reason, refused.status)
    except (requests.RequestException, ValueError):
        return _refusal(
            f"The identity provider at {get_parts().sso.settings.issuer} did not answer; try again in a moment.",  # type: ignore[union-attr]
            "provider_unreachable",
            502,
        )
    popup = request.args.get("popup") == "1"
    want = "agent" if request.args.get("as") == "agent" else "user"
    redirect_uri = url_for("auth.oidc_callback", _external=True)
    found = sso.client.create_authorization_url(redirect_uri)  # state, nonce, PKCE verifier and challenge
    sso.client.save_authorize_data(redirect_uri=redirect_uri, popup=popup, want=want, next=_next_url(""), **found)
    return redirect(found["url"])


@bp.get("/oidc/callback")
def oidc_callback():
    """Back from the provider: the code exchanged (with the PKCE verifier), the ID token checked, the account
    found; then a page session (or, for a popup, the hand-over page)."""
    try:
        sso = _sso()
    except SsoRefused as refused:
        return _refusal(refused.message, refused.reason, refused.status)
    flow = sso.client.framework.get_state_data(session, request.args.get("state")) or {}
    popup = bool(flow.get("popup"))
    try:
        token = sso.client.authorize_access_token()
        if "userinfo" not in token:
            raise SsoRefused(
                "The identity provider sent no ID token; is the 'openid' scope allowed?", "no_id_token", 502
            )
        claims = dict(token["userinfo"])
        if not claims.get(sso.settings.match_claim) and sso.metadata().get("userinfo_endpoint"):
            extra = dict(sso.client.userinfo(token=token))
            if extra.get("sub") == claims.get("sub"):  # OpenID Connect Core 5.3.2: else it is not this person's
                claims = {**extra, **claims}
        principal = match(get_parts().store, sso.settings, claims, flow.get("want", "user"), get_parts().clock())
    except MismatchingStateError:
        return _refusal(
            "This sign-in was not started in this browser, or it took too long (the state does not match). "
            "Start again.",
            "state_mismatch",
            400,
            popup,
        )
    except OAuthError as exc:
        return _refusal(
            f"The identity provider did not sign you in ({exc.error or 'error'}). Start again, or ask an admin.",
            f"provider_error:{exc.error}",
            401,
            popup,
        )
    except ExpiredTokenError:
        return _refusal(
            "The identity provider's ID token has expired (check the server clocks). Start again.",
            "expired",
            401,
            popup,
        )
    except ClaimError as exc:
        words = {
            "iss": "was issued by another identity provider than this connector trusts",
            "aud": "was issued for another application (its audience is not our client id)",
            "azp": "was issued for another application (its audience is not our client id)",
            "nonce": "does not belong to this sign-in (the nonce does not match)",
            "exp": "has expired",
        }.get(exc.claim, f"has a wrong '{exc.claim}' claim")
        return _refusal(f"The identity provider's ID token {words}. Sign-in refused.", f"claim:{exc.claim}", 401, popup)
    except JoseError as exc:
        return _refusal(
            "The identity provider's ID token could not be verified (its signature does not match the provider's "
            "keys). Sign-in refused.",
            f"token:{exc.error}",
            401,
            popup,
        )
    except SsoRefused as refused:
        return _refusal(refused.message, refused.reason, refused.status, popup)
    except (requests.RequestException, ValueError):
        return _refusal(
            f"The identity provider at {sso.settings.issuer} did not answer; try again in a moment.",
            "provider_unreachable",
            502,
            popup,
        )
    log.info("signed in with single sign-on: %s (%s)", principal.name, principal.role)
    with_pin = principal.role == "agent"
    if popup:
        # a session for the softphone's iframe to take over; the popup's own cookie is left as it was
        sid = web_sessions.start(get_parts().store, get_parts().clock(), principal.name, principal.role, with_pin)
        home = url_for("softphone.page") if principal.role == "agent" else HOME.get(principal.role, "/")
        handed = {"sid": sid, "name": principal.name, "role": principal.role, "agent": principal.agent_id}
        code = _handoffs().dumps({**handed, "next": flow.get("next") or home})
        return (
            render_template("sso_popup.html", code=code),
            200,
            {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )
    _start_session(principal, with_pin=with_pin, via="sso")
    home = url_for("softphone.page") if principal.role == "agent" else HOME.get(principal.role, "/")
    return redirect(flow.get("next") or home)


@bp.post("/oidc/redeem")
def oidc_redeem():
    """The embedded softphone redeems its popup's sign-in code for a session in its own cookie (the CSRF
    check of the guard applies: the code alone is not enough). A code works once and for
    ``HANDOFF_SECONDS``."""
    data = request.get_json(silent=True) or {}
    code = data.get("code") if isinstance(data, dict) else None
    if not isinstance(code, str) or not code:
        return jsonify(error={"code": "invalid", "message": "code is required", "field": "code"}), 400
    try:
        handed = _handoffs().loads(code, max_age=HANDOFF_SECONDS)
    except BadSignature:
        return jsonify(
            error={
                "code": "invalid",
                "message": "the sign-in code is not valid or has expired; sign in again",
                "field": "code",
            }
        ), 400
    parts = get_parts()
    # once: the session the popup started ends here (one update, so two redeems cannot both win) and the
    # redeeming window gets a new one
    if not web_sessions.end(parts.store, handed["sid"], parts.clock(), "handed_over"):
        return jsonify(
            error={"code": "used", "message": "the sign-in code was used already; sign in again", "field": "code"}
        ), 400
    principal = accounts.Principal(handed["name"], handed["role"], handed.get("agent"))
    _start_session(principal, with_pin=principal.role == "agent", via="sso")
    return jsonify(next=handed["next"])
