"""The store's Alembic scripts: ``env.py``, the revision template and ``versions/`` (one file per revision).

They ship in the wheel (package data) and are run by :mod:`connector.store.schema` (at start-up and by
``presence-connector db upgrade``); docs/migrations.md says how to add a revision.
"""
