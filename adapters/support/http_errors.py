"""Turning an HTTP answer or a requests failure into an AdapterError (shared by the HTTP adapters)."""

from __future__ import annotations

import requests

from adapters.base import AdapterError


def unreachable(system: str, exc: requests.RequestException) -> AdapterError:
    # the exception text may hold a URL with a secret in it: name only the kind of failure
    return AdapterError(f"{system} not reachable ({type(exc).__name__})")


def retry_after(reply: requests.Response) -> float | None:
    value = reply.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def check_reply(system: str, reply: requests.Response, what: str) -> requests.Response:
    """Raise for a failed answer: 429/5xx retryable (Retry-After honoured), other 4xx not."""
    if reply.status_code < 400:
        return reply
    detail = ""
    try:
        body = reply.json()
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            detail = err.get("message") or err.get("code") or ""
        elif isinstance(err, str):
            detail = body.get("error_description") or err
    except ValueError:
        pass
    message = f"{system} {what}: HTTP {reply.status_code}" + (f" ({detail[:200]})" if detail else "")
    if reply.status_code == 429 or reply.status_code >= 500:
        raise AdapterError(message, retryable=True, retry_after=retry_after(reply))
    if reply.status_code == 401:
        raise AdapterError(message, retryable=True)  # an expired token: the next attempt gets a new one
    raise AdapterError(message, retryable=False)
