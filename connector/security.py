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

#: ``CONNECTOR_PASSWORD_HASH_COST`` -> werkzeug hash method. ``standard`` is werkzeug's default
#: (scrypt N=32768, r=8, p=1: about half a second here); ``test`` makes the test suite fast and must
#: never be used for real accounts (N=1024, not less: werkzeug's scrypt memory bound is too tight
#: for OpenSSL below N=128, so keep a margin). Every hash carries its parameters
#: ("scrypt:N:r:p$salt$digest"), so it verifies whatever cost was selected when it was made.
HASH_COSTS = {"standard": "scrypt", "test": "scrypt:1024:8:1"}
_hash_method = HASH_COSTS["standard"]


def use_hash_cost(cost: str) -> None:
    """Select the cost (a key of HASH_COSTS) of new password and PIN hashes for this process.

    ``create_app`` calls it with the validated setting; verifying never depends on it.
    """
    global _hash_method
    _hash_method = HASH_COSTS[cost]


def hash_secret(secret: str) -> str:
    return generate_password_hash(secret, method=_hash_method)


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
