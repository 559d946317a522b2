"""The REST API under /api/v1: one blueprint (common) that the resource modules hang their routes on —
agents, reports, configuration, adapters, the live event stream (events) and the Omni-Channel bridge — plus
the OpenAPI description, request checks (inputs), token sign-in (auth) and the error mapping (errors)."""

from connector.api import (  # noqa: F401  (each registers its routes on the blueprint)
    adapters,
    agents,
    configuration,
    events,
    omni_bridge,
    openapi,
    reports,
)
from connector.api.common import bp
from connector.api.errors import init_app as init_errors

__all__ = ["bp", "init_errors"]
