"""The adapter registry: registry.db (all SQL in db.py) and the adapters/ folders (store.py)."""

from .db import Registry

__all__ = ["Registry"]
