"""Hashing of passwords, PINs and API tokens. Secrets are never stored or logged in clear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading

from cryptography.fernet import Fernet
from werkzeug.security import check_password_hash, generate_password_hash

from connector.errors import InvalidInput, Unavailable

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


#: marks a hash of the peppered secret: ``p1$`` + werkzeug's "method$salt$digest". The pepper is a key kept
#: outside the database (``CONNECTOR_PEPPER`` or ``instance/pepper``): a leaked database alone cannot be
#: used to try PINs offline. It travels with the store (``Store.pepper``), not as process state.
PEPPERED = "p1$"
#: at most this many hash computations at once (``CONNECTOR_HASH_CONCURRENCY``): sign-in guessers must not
#: take every CPU from presence changes
_hash_slots = threading.BoundedSemaphore(2)
_dummy_hashes: dict[str, str] = {}


def use_hash_concurrency(slots: int) -> None:
    global _hash_slots
    _hash_slots = threading.BoundedSemaphore(max(1, int(slots)))


def _peppered(secret: str, pepper: bytes) -> str:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


class _HashSlot:
    def __enter__(self):
        if not _hash_slots.acquire(timeout=10):
            raise Unavailable("too many sign-ins are being checked at once; try again", code="busy", retry_after=1)

    def __exit__(self, *exc):
        _hash_slots.release()


def hash_secret(secret: str, pepper: bytes | None = None) -> str:
    with _HashSlot():
        if not pepper:
            return generate_password_hash(secret, method=_hash_method)
        return PEPPERED + generate_password_hash(_peppered(secret, pepper), method=_hash_method)


def _dummy_hash() -> str:
    if _hash_method not in _dummy_hashes:
        _dummy_hashes[_hash_method] = generate_password_hash(secrets.token_hex(16), method=_hash_method)
    return _dummy_hashes[_hash_method]


def verify_secret(hashed: str | None, secret: str, pepper: bytes | None = None) -> bool:
    """Whether ``secret`` matches ``hashed``. Without a hash (an unknown name, no PIN set) the same work is
    done against a throw-away hash, so the answer's timing does not tell which names exist."""
    if not isinstance(secret, str):
        secret = ""
    with _HashSlot():
        if not hashed:
            check_password_hash(_dummy_hash(), secret)
            return False
        if hashed.startswith(PEPPERED):
            if not pepper:
                return False
            return check_password_hash(hashed[len(PEPPERED) :], _peppered(secret, pepper))
        return check_password_hash(hashed, secret)


def needs_rehash(hashed: str | None, pepper: bytes | None) -> bool:
    """A hash made before the pepper: rehash it after the next successful sign-in."""
    if not hashed or not pepper:
        return False
    return not hashed.startswith(PEPPERED)


def check_pin(pin: object, field: str = "pin") -> str:
    """A PBX PIN: digits only, at least 4 (Avaya IP Office's minimum)."""
    if not isinstance(pin, str) or not PIN_RE.match(pin):
        raise InvalidInput("PIN must be 4 to 12 digits", field=field)
    return pin


def check_role(role: object, field: str = "role") -> str:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of: {', '.join(ROLES)}", field=field)
    return role  # a str: it is one of ROLES


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # API tokens are long random strings: a fast digest is enough, a slow KDF would only cost latency
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def _fernet(secret_key: str):
    key = hashlib.sha256(("presence-connector/seal/" + secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, secret_key: str) -> str:
    """Encrypt a secret that must travel through the outbox (a PIN for a PBX login code).

    Sealed values are deleted once delivered; the agent's PIN itself is only ever stored hashed.
    """
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def unseal(sealed: str, secret_key: str) -> str:
    return _fernet(secret_key).decrypt(sealed.encode()).decode()
