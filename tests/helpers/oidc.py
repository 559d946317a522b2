"""OpenID Connect providers on 127.0.0.1 for the single sign-on tests and bench.

``mock_provider``: oidc-provider-mock (a real provider built on Authlib's server: discovery, keys, the
authorization form, the token endpoint, userinfo, end session), served by werkzeug on a free loopback port.
``RogueProvider``: a small provider of our own that answers the code flow at once and can misbehave on
purpose (an ID token from another issuer, for another audience, expired, with another nonce, signed with
another key), and that checks the PKCE verifier against the challenge as a provider must.
And ``browser_steps``: what a browser does between the connector and the provider, for the Flask test client.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import jwt
import oidc_provider_mock
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server


class MockProvider:
    def __init__(self, url: str):
        self.url = url

    def user(self, sub: str, **claims) -> str:
        """The claims the provider sends for ``sub`` (its ID token and userinfo)."""
        res = requests.put(f"{self.url}/users/{quote(sub, safe='')}", json=claims, timeout=5)
        assert res.status_code == 204, res.text
        return sub

    def authorize(self, authorize_url: str, sub: str) -> str:
        """The person ``sub`` signs in on the provider's form; the URL the provider sends the browser back to."""
        res = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=10)
        assert res.status_code == 302, res.text
        return res.headers["Location"]


@contextmanager
def mock_provider(token_max_age: timedelta = timedelta(hours=1)):
    """oidc-provider-mock on http://127.0.0.1:<free port> (its issuer), nonce required."""
    app = oidc_provider_mock.app(require_nonce=True, access_token_max_age=token_max_age)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield MockProvider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


def browser_steps(client, provider: MockProvider, sub: str, start: str = "/auth/oidc/start"):
    """The connector's start page -> the provider's form (``sub`` signs in) -> the connector's callback;
    the callback's answer (the Flask test client ``client`` plays the browser)."""
    res = client.get(start)
    assert res.status_code == 302, res.get_data(as_text=True)
    back = urlsplit(provider.authorize(res.headers["Location"], sub))
    return client.get(f"{back.path}?{back.query}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a shift's worth of sign-ins may arrive at once (bench/signin_bench.py)


class RogueProvider:
    """A provider that answers ``/authorize`` at once (no form) and issues ID tokens as ``mode`` says:
    ``good``, ``wrong_issuer``, ``wrong_audience``, ``expired``, ``wrong_nonce``, ``wrong_key``.
    ``pkce_checked`` counts token requests whose ``code_verifier`` matched the S256 challenge."""

    def __init__(self, port: int = 0) -> None:
        self.mode = "good"
        #: the issuer its discovery document names (None: its own URL)
        self.advertised_issuer: str | None = None
        #: what its userinfo endpoint answers (Salesforce's user_id is there, not in the ID token); None: no
        #: userinfo endpoint
        self.userinfo: dict | None = None
        self.access_tokens: set[str] = set()
        self.claims: dict = {"sub": "someone", "email": "someone@example.com"}
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.codes: dict[str, dict] = {}
        self.authorize_requests: list[dict] = []
        self.pkce_checked = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server name)
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    return self._json(provider.metadata())
                if url.path == "/jwks":
                    jwk = json.loads(RSAAlgorithm.to_jwk(provider.key.public_key()))
                    return self._json({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]})
                if url.path == "/userinfo" and provider.userinfo is not None:
                    token = self.headers.get("Authorization", "")[7:]
                    if token not in provider.access_tokens:
                        return self._json({"error": "invalid_token"}, 401)
                    return self._json(provider.userinfo)
                if url.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    if len(provider.authorize_requests) < 100:
                        provider.authorize_requests.append(query)
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = query
                    target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                asked = provider.codes.pop(form.get("code", ""), None)
                if asked is None:
                    return self._json({"error": "invalid_grant"}, 400)
                challenge = _b64(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
                if asked.get("code_challenge_method") != "S256" or challenge != asked.get("code_challenge"):
                    return self._json({"error": "invalid_grant", "error_description": "PKCE verifier"}, 400)
                provider.pkce_checked += 1
                access_token = secrets.token_urlsafe(16)
                provider.access_tokens.add(access_token)
                return self._json(
                    {
                        "access_token": access_token,
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": provider.id_token(asked),
                    }
                )

            def _json(self, data, status=200):
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def metadata(self) -> dict:
        userinfo = {"userinfo_endpoint": f"{self.url}/userinfo"} if self.userinfo is not None else {}
        return {
            **userinfo,
            "issuer": self.advertised_issuer or self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def id_token(self, asked: dict) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": asked.get("client_id"),
            "iat": now,
            "exp": now + 300,
            "nonce": asked.get("nonce"),
            **self.claims,
        }
        if asked.get("login_hint"):  # who signs in, when the caller says (bench/signin_bench.py)
            claims["sub"] = claims["email"] = asked["login_hint"]
        if self.mode == "wrong_issuer":
            claims["iss"] = "https://attacker.example"
        elif self.mode == "wrong_audience":
            claims["aud"] = "some-other-app"
        elif self.mode == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        elif self.mode == "wrong_nonce":
            claims["nonce"] = "replayed-" + secrets.token_urlsafe(8)
        key = self.other_key if self.mode == "wrong_key" else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":  # a quick provider in its own process: python -m tests.helpers.oidc <port>
    import sys

    RogueProvider(int(sys.argv[1]))
    threading.Event().wait()
