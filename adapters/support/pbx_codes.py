"""What a PBX is told for each change (shared by the PBX adapters).

Mode ``none`` ("Not sent to PBX") sends nothing. Mode ``dial`` sends the state's reason code on a
presence change, the login/logout codes with ``{extension}`` and ``{pin}`` filled in, and the number
the softphone dials.
"""

from __future__ import annotations

from adapters.base import AgentInfo, Change

PBX_SOURCE = "pbx"


def pbx_wanted(options) -> bool:
    return getattr(options, "pbx_mode", "none") == "dial"


def pbx_why_not(options) -> str | None:
    """Why a PBX adapter gets no rows: the PBX mode ("Not sent to PBX")."""
    return None if pbx_wanted(options) else f"not sent: PBX mode is {getattr(options, 'pbx_mode', 'none')}"


def dial_code(agent: AgentInfo, change: Change) -> str | None:
    """The digits to send for this change, or None when the PBX has nothing to do."""
    options = change.options
    if change.kind == "dial":
        return change.number or None
    if change.kind == "presence":
        code = (change.state.reason_code if change.state is not None else "") or ""
    elif change.kind == "login":
        code = getattr(options, "login_code", "") or ""
    elif change.kind == "logout":
        code = getattr(options, "logout_code", "") or ""
    else:
        return None
    if not code:
        return None
    return code.replace("{extension}", change.extension or agent.extension).replace("{pin}", change.pin or "")
