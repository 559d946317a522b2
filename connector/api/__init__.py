"""The REST API blueprint (/api/v1) and its error mapping."""
from . import adapter_routes, events, omni_bridge, openapi, routes  # noqa: F401  (registers the routes on the blueprint)
from .errors import init_app as init_errors
from .routes import bp

__all__ = ["bp", "init_errors"]
