"""The agent's softphone: standalone, or the Open CTI adapter page inside the Salesforce console."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from connector.web.guard import allowed_salesforce_origin, signed_in

bp = Blueprint("softphone", __name__)

#: the Open CTI library version the page loads from the console's origin
OPENCTI_VERSION = "61.0"


@bp.get("/softphone")
def page():
    principal = signed_in()
    if principal is None:
        return redirect(url_for("auth.agent_sign_in", next=request.full_path.rstrip("?")))
    wanted = request.args.get("agent") or principal.get("agent_id")
    if principal["role"] == "agent" and wanted != principal.get("agent_id"):
        abort(403)  # an agent opens only its own softphone
    if principal["role"] not in ("agent", "supervisor", "admin"):
        abort(403)
    if not wanted:
        return render_template(
            "error.html", status=400, message="Your account has no agent: open /softphone?agent=<agent id>."
        ), 400
    origin = allowed_salesforce_origin(request.args.get("sfdcIframeOrigin"))
    if origin:
        g.extra_script_origins = (origin,)
    return render_template(
        "softphone.html", agent_id=wanted or "", sf_origin=origin or "", opencti_version=OPENCTI_VERSION
    )
