"""Single sign-on with OpenID Connect: the provider's settings, and which account a verified ID token is.

The flow itself (authorization code with PKCE, state and nonce; the ID token's signature, issuer, audience
and expiry checked) is Authlib's client (connector/web/auth.py drives it; README "Single sign-on"). This
module decides who the person is once the provider has vouched for them: the claim named by
``CONNECTOR_OIDC_MATCH_CLAIM`` finds an existing agent or user; nobody is created unless
``CONNECTOR_OIDC_AUTO_CREATE`` is on; ``CONNECTOR_OIDC_ROLES_CLAIM`` optionally sets a user's role. No
password or PIN hash is computed on this path: the provider did the authentication.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from sqlalchemy import func, select

from connector.auth.accounts import AGENT_ID_RE, Principal
from connector.store import Store
from connector.store.models import Agent, AgentSessionRow, User
from connector.validation import Problem, SettingsInvalid

#: roles a roles claim may give, strongest first
ROLES = ("admin", "supervisor", "agent")
#: a password hash no password matches (werkzeug refuses it as malformed): accounts made by single sign-on
NO_PASSWORD = "!sso"


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    match_claim: str = "email"
    roles_claim: str = ""
    auto_create: bool = False
    name: str = "single sign-on"

    @classmethod
    def from_settings(cls, value: Callable[[str], Any]) -> OidcSettings | None:
        """The settings (``Settings.value``), or None when no issuer is configured (no single sign-on)."""
        if not value("CONNECTOR_OIDC_ISSUER"):
            return None
        if not value("CONNECTOR_OIDC_CLIENT_ID"):
            raise SettingsInvalid(
                Problem(
                    "CONNECTOR_OIDC_CLIENT_ID", "CONNECTOR_OIDC_CLIENT_ID must be set when CONNECTOR_OIDC_ISSUER is"
                )
            )
        return cls(
            issuer=value("CONNECTOR_OIDC_ISSUER"),
            client_id=value("CONNECTOR_OIDC_CLIENT_ID"),
            client_secret=value("CONNECTOR_OIDC_CLIENT_SECRET"),
            match_claim=value("CONNECTOR_OIDC_MATCH_CLAIM"),
            roles_claim=value("CONNECTOR_OIDC_ROLES_CLAIM"),
            auto_create=value("CONNECTOR_OIDC_AUTO_CREATE"),
            name=value("CONNECTOR_OIDC_NAME"),
        )


#: scopes asked for: the ID token, and the email and profile claims accounts are matched by
SCOPES = "openid email profile"
#: seconds to wait for the provider (discovery, keys, token, userinfo)
PROVIDER_TIMEOUT = 10


class SingleSignOn:
    """The configured provider and its Authlib client (one per app; the provider's metadata and keys are
    read at the first sign-in and kept; an ID token signed with a key not seen yet rereads the keys)."""

    def __init__(self, settings: OidcSettings):
        self.settings = settings
        self.client = FlaskOAuth2App(
            FlaskIntegration("oidc"),
            name="oidc",
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": SCOPES,
                "code_challenge_method": "S256",  # PKCE
                "default_timeout": PROVIDER_TIMEOUT,
            },
        )

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document; refused when it names another issuer than the configured one
        (OpenID Connect Discovery 1.0, section 4.3)."""
        metadata = self.client.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != self.settings.issuer:
            raise SsoRefused(
                f"The identity provider at {self.settings.issuer} says its issuer is "
                f"'{metadata.get('issuer', '')}'; CONNECTOR_OIDC_ISSUER must be exactly the provider's issuer.",
                "issuer_mismatch",
                status=502,
            )
        return metadata


class SsoRefused(Exception):
    """The provider vouched for someone this connector will not sign in; ``message`` is shown on the page
    (it names the claim and what an admin can do, never a token)."""

    def __init__(self, message: str, reason: str, status: int = 403):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.status = status


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def _salesforce_id(value: str) -> str:
    """Salesforce ids compare on their 15 case-sensitive characters (the 18-character form adds a checksum)."""
    return value[:15]


def claimed_roles(settings: OidcSettings, claims: Mapping[str, Any]) -> list[str]:
    """The known roles the roles claim lists (a list, or one text), strongest first."""
    raw = claims.get(settings.roles_claim)
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    given = {v.strip().lower() for v in values if isinstance(v, str)}
    return [role for role in ROLES if role in given]


def _agents_matching(s, claim: str, value: str) -> list[Agent]:
    if claim == "user_id":
        rows = s.execute(select(Agent).where(Agent.salesforce_user_id != "")).scalars()
        return [a for a in rows if _salesforce_id(a.salesforce_user_id) == _salesforce_id(value)]
    lowered = value.lower()
    if claim == "email":
        where = func.lower(Agent.email) == lowered
    elif claim == "preferred_username":
        where = (Agent.id == value) | (func.lower(Agent.email) == lowered)
    else:  # sub
        where = Agent.id == value
    return list(s.execute(select(Agent).where(where)).scalars())


def _users_matching(s, claim: str, value: str, agents: list[Agent]) -> list[User]:
    if claim == "user_id":  # a user linked to the agent with this Salesforce user id
        ids = [a.id for a in agents]
        return list(s.execute(select(User).where(User.agent_id.in_(ids))).scalars()) if ids else []
    if claim == "sub":
        return list(s.execute(select(User).where(User.username == value)).scalars())
    return list(s.execute(select(User).where(func.lower(User.username) == value.lower())).scalars())


def match(store: Store, settings: OidcSettings, claims: Mapping[str, Any], want: str, now: datetime) -> Principal:
    """Who the verified ``claims`` are: an agent (``want`` "agent": the softphone) or a user ("user": the
    dashboard and admin pages) found by the match claim, the other kind when only that one matches.

    Refused (:class:`SsoRefused`) when the claim is missing, no account matches (and auto-create is off),
    more than one does, the account is disabled, or the roles claim gives no known role.
    """
    claim = settings.match_claim
    value = _text(claims, claim)
    if not value:
        raise SsoRefused(
            f"Your identity provider did not send the '{claim}' claim this connector matches accounts by "
            "(CONNECTOR_OIDC_MATCH_CLAIM). Ask an admin to check the provider's claims or the setting.",
            "claim_missing",
        )
    roles = claimed_roles(settings, claims) if settings.roles_claim else None
    if roles is not None and not roles:
        raise SsoRefused(
            f"Your identity provider gives you no role for Presence Connector (the '{settings.roles_claim}' "
            f"claim lists none of {', '.join(ROLES)}). Ask an admin to assign you one.",
            "no_role",
        )
    with store.write() as s:
        agents = _agents_matching(s, claim, value)
        users = _users_matching(s, claim, value, agents)
        for found, kind in ((agents, "agent"), (users, "user")):
            if len(found) > 1:
                raise SsoRefused(
                    f"More than one {kind} matches your {claim}; an admin must make it unique before you can "
                    "sign in with single sign-on.",
                    "ambiguous",
                )
        agent = agents[0] if agents else None
        user = users[0] if users else None
        order = [("agent", agent), ("user", user)] if want == "agent" else [("user", user), ("agent", agent)]
        for kind, account in order:
            if account is None:
                continue
            if not account.active:
                raise SsoRefused(f"Your {kind} account is disabled; ask an admin to enable it.", "disabled", status=403)
            if isinstance(account, Agent):
                return Principal(account.id, "agent", account.id)
            if roles is not None and account.role != roles[0]:
                account.role = roles[0]  # the provider's role wins at each sign-in
            return Principal(account.username, account.role, account.agent_id)
        if not settings.auto_create:
            raise SsoRefused(
                f"No Presence Connector account matches your {claim} ({value}). Ask an admin to add you "
                "(an agent's email or Salesforce user id, or a user's username) and sign in again.",
                "no_account",
            )
        return _create(s, settings, claims, value, roles, now)


def _create(s, settings: OidcSettings, claims, value: str, roles: list[str] | None, now) -> Principal:
    """An account for someone the provider vouches for (``CONNECTOR_OIDC_AUTO_CREATE``): a user when the roles
    claim makes them a supervisor or admin, else an agent named by the claim (without a PIN)."""
    role = roles[0] if roles else "agent"
    if role != "agent":
        username = value if len(value) <= 100 else ""
        if not username:
            raise SsoRefused(f"Your {settings.match_claim} is too long for a username.", "bad_name")
        s.add(User(username=username, password_hash=NO_PASSWORD, role=role, agent_id=None, active=True, created_at=now))
        return Principal(username, role, None)
    agent_id = value if AGENT_ID_RE.match(value) else _text(claims, "preferred_username")
    if not AGENT_ID_RE.match(agent_id or ""):
        raise SsoRefused(
            f"Your {settings.match_claim} cannot be an agent id (letters, digits, '.', '_', '@', '-'); ask an "
            "admin to add you.",
            "bad_name",
        )
    if s.get(Agent, agent_id) is not None:
        raise SsoRefused(
            f"An agent '{agent_id}' exists but does not match your {settings.match_claim}; ask an admin.", "taken"
        )
    email = _text(claims, "email")[:200]
    sf_user = _text(claims, "user_id")[:18]
    s.add(
        Agent(
            id=agent_id,
            name=(_text(claims, "name") or agent_id)[:200],
            team="",
            extension="",
            email=email,
            salesforce_user_id=sf_user,
            created_at=now,
            active=True,
        )
    )
    s.add(AgentSessionRow(agent_id=agent_id, logons=[], version=0, logoff_pending=False))
    return Principal(agent_id, "agent", agent_id)
