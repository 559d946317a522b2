"""Hashing of passwords, PINs and API tokens. Secrets are never stored or logged in clear."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from .errors import InvalidInput

ROLES = ("agent", "supervisor", "admin", "integration")
PIN_RE = re.compile(r"^[0-9]{4,12}$")
TOKEN_PREFIX = "pc_"


def hash_secret(secret: str) -> str:
    return generate_password_hash(secret)


def verify_secret(hashed: str | None, secret: str) -> bool:
    if not hashed or not isinstance(secret, str):
        return False
    return check_password_hash(hashed, secret)


def check_pin(pin: object, field: str = "pin") -> str:
    """A PBX PIN: digits only, at least 4 (Avaya IP Office's minimum)."""
    if not isinstance(pin, str) or not PIN_RE.match(pin):
        raise InvalidInput("PIN must be 4 to 12 digits", field=field)
    return pin


def check_role(role: object, field: str = "role") -> str:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of: {', '.join(ROLES)}", field=field)
    return role  # type: ignore[return-value]


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # API tokens are long random strings: a fast digest is enough, a slow KDF would only cost latency
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def _fernet(secret_key: str):
    import base64

    from cryptography.fernet import Fernet
    key = hashlib.sha256(("presence-connector/seal/" + secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, secret_key: str) -> str:
    """Encrypt a secret that must travel through the outbox (a PIN for a PBX login code).

    Sealed values are deleted once delivered; the agent's PIN itself is only ever stored hashed.
    """
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def unseal(sealed: str, secret_key: str) -> str:
    return _fernet(secret_key).decrypt(sealed.encode()).decode()
