"""Security of the web pages: sign-in checks, CSRF, cookie flags and the Content-Security-Policy.

The pages call the JSON API with the session cookie. Every cookie-authenticated request that
changes something must carry the session's CSRF token (``X-CSRF-Token`` header or a
``csrf_token`` form field); bearer-token API calls are exempt (a browser never adds those by itself).
"""

from __future__ import annotations

import re
import secrets
from functools import lru_cache, wraps
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from connector.api.auth import bearer_principal
from connector.api.errors import error_response, wants_json
from connector.auth import page_sessions as web_sessions
from connector.auth.hashing import same
from connector.errors import Unauthorized
from connector.parts import get_parts

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def csrf_token() -> str:
    """The per-session token pages put in ``<meta name="csrf-token">``."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def signed_in() -> dict | None:
    """The page session's principal; None when the request authenticated with a bearer token instead."""
    if g.get("bearer_only"):
        return None
    return session.get("principal")


def page_role(*roles: str):
    """A page for signed-in users with one of ``roles``: sign-in redirect when anonymous, 403 page otherwise."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            principal = signed_in()
            if principal is None:
                if "/api/" in request.path:
                    return error_response(401, "unauthorized", "sign in first", field="session")
                return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
            if roles and principal["role"] not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)


def _host_and_port(origin: str) -> tuple[str, int] | None:
    """``(hostname, port)`` of an ``https://host[:port]`` origin; None for anything else (userinfo,
    a path, a query, spaces or other characters a host name cannot have)."""
    try:
        parts = urlsplit(origin)
        port = parts.port or 443
    except ValueError:
        return None
    host = parts.hostname or ""
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.password is not None
        or "@" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or not HOSTNAME_RE.match(host)
    ):
        return None
    return host, port


def allowed_salesforce_origin(origin: str | None) -> str | None:
    """The console origin Open CTI passes, when it is one of the configured frame ancestors.

    Only the host name (and port) is matched against each pattern (``*.lightning.force.com``), and the
    origin handed on is rebuilt from them, so nothing else of the given text reaches a header.
    """
    found = _host_and_port(origin) if origin else None
    if found is None:
        return None
    host, port = found
    for pattern in get_parts().settings.frame_ancestors:
        pattern = pattern.lower() if "://" in pattern else "https://" + pattern.lower()
        wildcard = "://*." in pattern
        allowed = _host_and_port(pattern.replace("://*.", "://", 1))
        if allowed is None or allowed[1] != port:
            continue
        if host.endswith("." + allowed[0]) if wildcard else host == allowed[0]:
            return f"https://{host}" + (f":{port}" if port != 443 else "")
    return None


def _check_session():
    """A page session lives while the store says so (connector/auth/page_sessions.py): signed out, disabled,
    PIN reset, password changed, idle or too old ends it at the next request."""
    if request.endpoint in ("static", "pages.prometheus_metrics"):  # /metrics checks its own token (pages.py)
        return None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return _check_bearer(header[7:].strip())
    principal = session.get("principal")
    if principal:
        parts = get_parts()
        if not web_sessions.check(parts.store, session.get("sid"), parts.clock(), parts.session_lifetimes):
            session.clear()
    return _check_csrf()


def _check_bearer(token: str):
    """A request with a bearer token is authenticated by that token alone: never by the cookie as well.

    Only a valid token lifts the CSRF check (a browser never adds one by itself); an invalid one is 401.
    """
    g.bearer_only = True
    try:
        g.principal = bearer_principal(token)
    except Unauthorized as exc:
        return error_response(401, "unauthorized", exc.message, field=exc.field)
    return None


def _check_csrf():
    if request.method in SAFE_METHODS:
        return None
    if not (session.get("principal") or request.blueprint == "auth"):
        return None  # no cookie identity: the API answers 401 by itself
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf") or ""
    if expected and sent and same(sent, expected):
        return None
    message = "the form or request is missing its CSRF token (reload the page and try again)"
    if request.path.startswith(("/api/", "/admin/api/")) or request.accept_mimetypes.best == "application/json":
        return error_response(403, "csrf", message, field="X-CSRF-Token")
    return render_template("error.html", status=403, message=message), 403


@lru_cache(maxsize=64)
def _content_security_policy(frame_ancestors: tuple[str, ...], extra_script_origins: tuple[str, ...]) -> str:
    ancestors = " ".join(frame_ancestors) or "'self'"
    scripts = " ".join(["'self'", *extra_script_origins])
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


_PAGE_BLUEPRINTS = frozenset(("auth", "softphone", "dashboard", "admin", "admin_integrations", "admin_omni"))


def security_headers(settings, extra_script_origins: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The security headers every answer carries (:func:`_headers`; the fast path adds them as they are)."""
    return [
        (
            "Content-Security-Policy",
            _content_security_policy(tuple(settings.frame_ancestors), tuple(extra_script_origins)),
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
    ]


def _headers(response):
    """The security headers every answer carries, unless the view set its own (one pass over the headers:
    werkzeug's ``setdefault`` scans them once per header)."""
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}
    for name, value in security_headers(get_parts().settings, g.get("extra_script_origins", ())):
        if name.lower() not in present:
            headers.add(name, value)
    if "cache-control" not in present and request.blueprint in _PAGE_BLUEPRINTS:
        headers.add("Cache-Control", "no-store")
    return response


class PageSessionInterface(SecureCookieSessionInterface):
    """Session cookies: HttpOnly always, Secure over HTTPS, SameSite=None only for the embedded softphone.

    Inside the Salesforce console the softphone is a third-party iframe; its cookie is sent only
    when it is ``SameSite=None; Secure``, which browsers accept over HTTPS only.
    """

    def open_session(self, app: Flask, request):
        if request.headers.get("Authorization", "")[:7].lower() == "bearer ":
            # a bearer request is authenticated by its token alone (_check_bearer): no cookie to read
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        if not session and not session.modified and not session.accessed:
            return  # nothing to write, delete or vary on (an API call with a token)
        super().save_session(app, session, response)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure or app.config.get("SESSION_COOKIE_SECURE"))

    def _third_party(self, app: Flask) -> bool:
        return bool(session.get("embedded") and self.get_cookie_secure(app))

    def get_cookie_samesite(self, app: Flask) -> str | None:
        if self._third_party(app):
            return "None"
        return app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"

    def get_cookie_partitioned(self, app: Flask) -> bool:
        # browsers that block third-party cookies still keep a partitioned one (CHIPS) for the console
        return self._third_party(app)


def init_app(app: Flask) -> None:
    app.session_interface = PageSessionInterface()
    app.before_request(_check_session)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["signed_in"] = signed_in

    @app.errorhandler(403)
    def _forbidden(exc):
        if wants_json():
            return error_response(403, "forbidden", "you may not open this")
        return render_template("error.html", status=403, message="Your role may not open this page."), 403
