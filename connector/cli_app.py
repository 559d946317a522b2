"""The app as the command line builds it: a leaf that ``cli`` and ``adapters_cli`` both import,
so neither has to import the other."""
from __future__ import annotations

from flask import Flask

from .app import create_app


def build_app() -> Flask:
    """The app from the environment (and ``.env``), as every command uses it."""
    return create_app()
