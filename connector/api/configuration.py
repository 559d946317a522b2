"""The presence configuration as clients read it: the states and options in force, and its version history."""

from __future__ import annotations

from flask import jsonify

from connector.api.auth import require
from connector.api.common import bp, service
from connector.parts import get_parts


@bp.get("/presence-states")
@require()
def presence_states():
    config = get_parts().configs.active()
    opts = config.options
    return jsonify(
        {
            "name": config.name,
            "states": [st.as_dict() for st in config.states],
            "options": {
                "pbx_mode": opts.pbx_mode,
                "wrap_up_seconds": opts.wrap_up_seconds,
                "active_call": opts.active_call,
                "tracking_interval_seconds": opts.tracking_interval_seconds,
                "omni_channel_sync": opts.omni_channel_sync,
                "skype_sync": opts.skype_sync,
                "teams_sync": opts.teams_sync,
                "heartbeat_interval_seconds": max(5, (opts.session.heartbeat_grace_seconds or 90) // 3),
            },
        }
    )


@bp.get("/config/history")
@require("admin")
def config_history():
    return jsonify({"versions": service().configs.history()})
