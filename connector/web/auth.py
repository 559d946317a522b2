"""Signing in to the pages: users with username + password, agents with agent id + PIN."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for

from connector.auth import accounts
from connector.auth import page_sessions as web_sessions
from connector.errors import TooManyAttempts
from connector.parts import get_parts
from connector.web.guard import csrf_token

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


def _start_session(principal: accounts.Principal, with_pin: bool) -> None:
    embedded = session.get("embedded", False)
    web_sessions.end(get_parts().store, session.get("sid"), get_parts().clock(), "signed_in_again")
    session.clear()  # a fresh session (and CSRF token) on every sign-in: no session fixation
    session["sid"] = web_sessions.start(
        get_parts().store, get_parts().clock(), principal.name, principal.role, with_pin
    )
    session["principal"] = {"name": principal.name, "role": principal.role, "agent_id": principal.agent_id}
    session["embedded"] = embedded
    session["with_pin"] = with_pin
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
    if request.method == "POST":
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
    return (
        render_template("sign_in.html", mode=mode, error=error, next=_next_url(""), **{fields[0]: name}),
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
    role = (session.get("principal") or {}).get("role")
    web_sessions.end(get_parts().store, session.get("sid"), get_parts().clock())
    session.clear()
    return redirect(url_for("auth.agent_sign_in") if role == "agent" else url_for("auth.sign_in"))
