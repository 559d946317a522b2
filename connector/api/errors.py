"""HTTP mapping of the error vocabulary, done once for the whole API."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from connector.errors import ConnectorError
from connector.observe import metrics
from connector.store.faults import DRIVER_OPERATIONAL, store_fault

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


def error_response(status: int, code: str, message: str | None, field: str | None = None, extra: dict | None = None):
    body = {"error": {"code": code, "message": message, "field": field, **(extra or {})}}
    return jsonify(body), status


def wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or request.path == "/healthz"
        or request.accept_mimetypes.best == "application/json"
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(ConnectorError)
    def _domain_error(exc: ConnectorError):
        body = exc.to_dict()
        retry_after = getattr(exc, "retry_after", None)
        return jsonify(body), exc.http_status, ({"Retry-After": str(retry_after)} if retry_after else {})

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not wants_json():
            return exc
        status = exc.code or 500
        message = exc.description if status != 413 else "the request body is too large"
        body, status = error_response(status, _HTTP_CODES.get(status, "http_error"), message)
        # keep the headers the error carries: Allow on a 405, Retry-After on a 429/503
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
        return body, status, headers

    @app.errorhandler(SQLAlchemyError)
    def _store_error(exc: Exception):
        fault = store_fault(exc)
        if fault is None:
            return _unexpected(exc)
        log.error("store fault on %s %s: %s (%s)", request.method, request.path, fault.code, type(exc).__name__)
        metrics.store_error(fault.code)
        headers = {"Retry-After": str(fault.retry_after)}
        if not wants_json():
            return f"{fault.message}.", 503, headers
        return jsonify(fault.to_dict()), 503, headers

    for driver_error in DRIVER_OPERATIONAL:  # the change path runs its statements straight on the driver
        app.register_error_handler(driver_error, _store_error)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # the traceback goes to the log; the caller gets no internals
        log.exception("unexpected error on %s %s", request.method, request.path)
        if not wants_json():
            return "Internal error; see the server log.", 500
        return error_response(500, "internal", "internal error; the server log has the details")
