"""Tailor's one user-facing error base, and errors from around Tailor (disk, database) said in one line.

Every error a user can cause or fix — bad data, an invalid plan, an unknown adapter, a refused import, a
job in the wrong state — is a `TailorError` whose message says what was wrong, where, and what to do. The
CLI prints it as one `error:` line (exit 2); the web app shows it as one line. Nothing else needs catching.
"""

from __future__ import annotations

import errno
import sqlite3


class TailorError(Exception):
    """Something the user can fix; the message says what, where and what to do (one line)."""


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
