"""Errors from around Tailor — the disk, the database, the settings file — said in one line each."""

from __future__ import annotations

import errno
import sqlite3


def environment_error(e: BaseException) -> str:
    """What went wrong around Tailor (settings, disk, database) in one line, with what to do."""
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return f"the disk is full ({e.filename or 'writing'}); nothing was changed. Free some space and try again"
    if isinstance(e, sqlite3.DatabaseError):
        return (f"the registry database cannot be used ({e}); if the disk is full, free some space; "
                "else check registry.db's disk and permissions")
    if isinstance(e, OSError):
        return f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
    return str(e)
