"""The ``presence-connector`` command line: the top group and its commands (main), the ``adapters`` group,
and the demo data ``init-db --demo`` loads. The console script is ``connector.cli:main``."""

from connector.cli.main import main

__all__ = ["main"]
