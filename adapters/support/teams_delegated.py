"""The delegated token of Teams change notifications: the ``refresh_token`` grant, keeping Microsoft's rotation.

As the Microsoft identity platform documents it (pages followed):

* https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens — "Refresh tokens replace themselves
  with a fresh token upon every use"; the old one is not revoked but keeps only its own lifetime (90 days, sooner
  when unused or revoked), so the client stores the newest and drops the old one. Refresh tokens are secrets.
* https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token —
  the answer to a ``refresh_token`` grant carries ``access_token``, ``expires_in`` and a new ``refresh_token``; a
  refused one answers 400 ``{"error": "invalid_grant", "error_codes": [700082, ...]}`` (expired by inactivity,
  revoked, the user's password changed): only an interactive sign-in gives a new one.

So ``TEAMS_DELEGATED_REFRESH_TOKEN`` is where the chain starts: each newer refresh token Microsoft returns is kept
in the store, sealed with ``CONNECTOR_SECRET_KEY`` (``Host.remember_secret``), shared by every instance and used
after a restart. A new ``TEAMS_DELEGATED_REFRESH_TOKEN`` (saved on the admin page) starts a new chain. An
``invalid_grant`` parks change notifications with the reason (adapter health, one warning in the log): the same
token is not sent again until a new one is saved or the admin page's connection check tries it; polling goes
on. The token itself never goes into a log line, health, an error or a page.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from urllib.parse import quote

import requests

from adapters.base import Adapter, AdapterError
from adapters.support.http_errors import check_reply, unreachable

log = logging.getLogger(__name__)

#: the newest refresh token and the state of the chain, sealed in the store (Host.remember_secret)
KEY = "teams:delegated-refresh-token"
SCOPE = "https://graph.microsoft.com/Presence.Read.All offline_access"


class DelegatedToken:
    """Redeems the newest refresh token of the consenting user for a delegated access token."""

    def __init__(self, adapter: Adapter):
        self.adapter = adapter
        self.rotations = 0  # newer refresh tokens kept by this instance
        self.refusals = 0  # invalid_grant answers seen by this instance

    # -- what is kept (shared by the instances) ---------------------------------------------------
    def _configured(self) -> str:
        return str(self.adapter.config["delegated_refresh_token"] or "")

    def _chain(self) -> str:
        """Which configured token the kept chain started from (a digest, inside the sealed record only)."""
        return hashlib.sha256(self._configured().encode()).hexdigest()

    def _host(self):
        return getattr(self.adapter, "host", None)

    def kept(self) -> dict[str, Any]:
        """The sealed record of the current chain; {} when none (or it started from another configured token)."""
        recall = getattr(self._host(), "recall_secret", None)  # None: unbound (a check of typed settings)
        text = recall(KEY) if recall is not None else None
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            return {}
        return data if isinstance(data, dict) and data.get("chain") == self._chain() else {}

    def _keep(self, data: dict[str, Any]) -> None:
        remember = getattr(self._host(), "remember_secret", None)
        if remember is not None:  # an unbound adapter (a connection check of typed settings) keeps nothing
            remember(KEY, json.dumps({**data, "chain": self._chain()}))

    def _now(self) -> str | None:
        host = self._host()
        return host.now().isoformat() if host is not None else None

    # -- the grant ----------------------------------------------------------------------------------
    def redeem(self, retry_parked: bool = False) -> tuple[str, int]:
        """A delegated access token and its lifetime in seconds. Raises AdapterError (never naming the token):
        refused by Microsoft (an invalid_grant is parked), or parked already unless ``retry_parked``."""
        kept = self.kept()
        if kept.get("refused") and not retry_parked:
            raise AdapterError(f"change notifications parked: {kept['refused']}", retryable=False)
        refresh = str(kept.get("refresh_token") or self._configured())
        c = self.adapter.config
        try:
            reply = requests.post(
                f"{c['login_url']}/{quote(c['tenant_id'], safe='')}/oauth2/v2.0/token",
                data={
                    "client_id": c["client_id"],
                    "client_secret": c["client_secret"],
                    "grant_type": "refresh_token",
                    "refresh_token": refresh,
                    "scope": SCOPE,
                },
                timeout=c["timeout"],
            )
        except requests.RequestException as exc:
            raise unreachable("Microsoft login", exc) from None
        if reply.status_code in (400, 401):
            error, codes = _refusal(reply)
            if error == "invalid_grant":
                reason = (
                    f"Microsoft login refused the delegated refresh token (invalid_grant{', ' + codes if codes else ''}):"
                    " a user must sign in again, consent to Presence.Read.All (delegated) and the new refresh token"
                    " be saved as TEAMS_DELEGATED_REFRESH_TOKEN; polling continues"
                )
                if kept.get("refused") != reason:
                    log.warning("Teams change notifications parked: %s", reason)
                self.refusals += 1
                count = getattr(self._host(), "credential_refused", None)
                if count is not None:
                    count(self.adapter.name, "TEAMS_DELEGATED_REFRESH_TOKEN")
                self._keep({**kept, "refused": reason, "refused_at": self._now()})
                raise AdapterError(reason, retryable=False)
            raise AdapterError(
                f"Microsoft login refused TEAMS_DELEGATED_REFRESH_TOKEN (HTTP {reply.status_code}"
                f"{', ' + error[:40] if error else ''}); check TEAMS_CLIENT_ID and TEAMS_CLIENT_SECRET, or sign in "
                "again and consent to Presence.Read.All (delegated)",
                retryable=False,
            )
        check_reply("Microsoft login", reply, "delegated token")
        body = reply.json()
        newer = body.get("refresh_token")
        if isinstance(newer, str) and newer and newer != refresh:
            self._keep({"refresh_token": newer, "rotated_at": self._now()})  # the old one is dropped
            self.rotations += 1
        elif kept.get("refused"):
            self._keep({k: v for k, v in kept.items() if k not in ("refused", "refused_at")})
        return str(body["access_token"]), int(body.get("expires_in", 3600))

    def health(self) -> dict[str, Any]:
        kept = self.kept()
        return {
            "delegated_token": "parked"
            if kept.get("refused")
            else "rotated"
            if kept.get("refresh_token")
            else "configured",
            "delegated_token_refused": kept.get("refused"),
            "delegated_token_rotated_at": kept.get("rotated_at"),
            "delegated_token_rotations": self.rotations,
        }


def _refusal(reply: requests.Response) -> tuple[str, str]:
    """The OAuth ``error`` and the AADSTS codes of a refusal (never its description, which may quote input)."""
    try:
        body = reply.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    codes = [f"AADSTS{c}" for c in body.get("error_codes") or [] if isinstance(c, int) and not isinstance(c, bool)]
    return (error if isinstance(error, str) and error.isidentifier() else ""), ", ".join(codes[:3])
