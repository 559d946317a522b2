"""The landing page, /healthz and /metrics."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Response, jsonify, render_template, request
from prometheus_client import CollectorRegistry

from connector.auth.accounts import principal_for_token
from connector.auth.stream_tokens import is_stream_token
from connector.errors import Unauthorized
from connector.observe import metrics
from connector.parts import get_parts
from connector.store.faults import store_fault
from connector.store.models import HealthProbe
from connector.version import __version__
from connector.web.guard import signed_in

bp = Blueprint("pages", __name__)
#: /healthz writes its probe row at most this often (a store that stops taking writes shows within this)
PROBE_WRITE_SECONDS = 5.0


@bp.get("/healthz")
@bp.get("/healthz/ready")
def healthz():
    """Readiness: the store answers and accepts a write (a load balancer sends traffic only then)."""
    parts = get_parts()
    try:
        parts.store.ping()
        with parts.store.read() as s:
            config = parts.configs.active(s)
        # the write check runs at most every PROBE_WRITE_SECONDS per process: an anonymous caller must not
        # turn a health check into a write per request (every change waits for the store's write lock)
        probe = parts.store.caches.setdefault("health_probe", {})
        if time.monotonic() - probe.get("written", -PROBE_WRITE_SECONDS) >= PROBE_WRITE_SECONDS:
            with parts.store.write() as s:
                s.merge(HealthProbe(id=1, written_at=parts.clock()))
            probe["written"] = time.monotonic()
        store = {"ok": True, "backend": parts.store.backend}
        # accounts with many failed sign-ins today (a count only: the names are on the admin page)
        body = {
            "status": "ok",
            "version": __version__,
            "store": store,
            "presence_config": config.name,
            "sign_in_alerts": len(parts.sign_in.alerts()),
        }
        return jsonify(body)
    except Exception as exc:  # the store is down or refuses writes: a 503 a load balancer understands
        parts.store.caches.get("health_probe", {}).pop("written", None)
        fault = store_fault(exc)
        metrics.store_error(fault.code if fault else type(exc).__name__)
        return (
            jsonify(
                {
                    "status": "unavailable",
                    "version": __version__,
                    "store": {
                        "ok": False,
                        "backend": parts.store.backend,
                        "error": fault.code if fault else type(exc).__name__,
                    },
                }
            ),
            503,
            {"Retry-After": str(fault.retry_after if fault else 10)},
        )


@bp.get("/metrics")
def prometheus_metrics():
    """This instance's metrics in the Prometheus text format, for a bearer token: CONNECTOR_METRICS_TOKEN or an
    admin API token (README "Metrics"). What the process counted, then the gauges read from the store now."""
    parts = get_parts()
    if not _may_scrape(parts, request.headers.get("Authorization", "")):
        raise Unauthorized(
            "send CONNECTOR_METRICS_TOKEN or an admin API token as 'Authorization: Bearer ...'", field="Authorization"
        )
    found = parts.store.caches.setdefault("metrics", {})
    registry = found.get("registry")
    if registry is None:  # one per app: its store, its bus
        registry = found["registry"] = CollectorRegistry(auto_describe=False)
        registry.register(metrics.StoreCollector(parts, lambda: parts.bus.subscriber_count))
    return Response(
        metrics.exposition(registry), 200, {"Content-Type": metrics.CONTENT_TYPE, "Cache-Control": "no-store"}
    )


def _may_scrape(parts, authorization: str) -> bool:
    if authorization[:7].lower() != "bearer ":
        return False
    token = authorization[7:].strip()
    expected = parts.settings.value("CONNECTOR_METRICS_TOKEN")
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return True
    if not token or is_stream_token(token):
        return False
    principal = principal_for_token(parts.store, token)
    return principal is not None and principal.role == "admin"


@bp.get("/healthz/live")
def liveness():
    """Liveness: the process answers requests (a restart would not help a store fault)."""
    return jsonify({"status": "ok"})


@bp.get("/")
def index():
    """Status for signed-in people; before sign-in nothing but the sign-in links."""
    if signed_in() is None:
        return render_template("index.html", anonymous=True)
    parts = get_parts()
    with parts.store.read() as s:
        config = parts.configs.active(s)
    agents = parts.service.agents()
    return render_template(
        "index.html",
        config=config,
        agents=agents,
        logged_in=sum(1 for a in agents if a["logged_in"]),
        backend=parts.store.backend,
    )
