"""The landing page and /healthz."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from ..parts import get_parts

bp = Blueprint("pages", __name__)


@bp.get("/healthz")
def healthz():
    ext = get_parts()
    try:
        ext.store.ping()
        with ext.store.read() as s:
            config = ext.configs.active(s)
        store = {"ok": True, "backend": ext.store.backend}
        body = {"status": "ok", "store": store, "presence_config": config.name}
        return jsonify(body)
    except Exception as exc:  # the store is down: say so, with a 503 a load balancer understands
        return jsonify({"status": "unavailable", "store": {"ok": False, "backend": ext.store.backend,
                                                           "error": type(exc).__name__}}), 503


@bp.get("/")
def index():
    ext = get_parts()
    with ext.store.read() as s:
        config = ext.configs.active(s)
    agents = ext.service.agents()
    return render_template("index.html", config=config, agents=agents,
                           logged_in=sum(1 for a in agents if a["logged_in"]), backend=ext.store.backend)
