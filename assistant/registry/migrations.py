"""The registry's schema and its numbered migrations.

The schema file is the whole current schema (`CREATE ... IF NOT EXISTS`); a new database runs it. An older
one runs `MIGRATIONS[n]` for each version it lacks, each in one transaction with its version bump (see
`Registry.migrate`), so a failed upgrade leaves the old database as it was.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

SCHEMA_FILE = Path(__file__).with_name("schema.sql")
"""The schema, shipped in the package: a link to the checkout's top-level registry.db.sql, its one source."""
SCHEMA_VERSION = 4


def _migrate_2(db: sqlite_utils.Database) -> None:
    """v1 → v2: base revision and origin of adapters, search index, leases, indexes; existing rows kept."""
    from . import db as db_module  # its search-index helper, looked up when the step runs
    db.execute("ALTER TABLE adapters ADD COLUMN base_revision TEXT")
    db.execute("ALTER TABLE adapters ADD COLUMN origin TEXT NOT NULL DEFAULT 'trained'")
    # The schema file creates only what is missing (IF NOT EXISTS), so applying it adds the new objects.
    # Statement by statement: executescript would commit the migration's transaction half-way.
    for statement in _statements(_schema_without_pragma()):
        db.execute(statement)
    for (adapter_id,) in db.execute("select id from adapters").fetchall():
        db_module._index_adapter(db, adapter_id)


def _migrate_3(db: sqlite_utils.Database) -> None:
    """v2 → v3: the kind of a job's failure is a field (`failure`), no longer a prefix of its error text."""
    db.execute("ALTER TABLE jobs ADD COLUMN failure TEXT")
    db.execute("UPDATE jobs SET failure = CASE WHEN error LIKE 'out of memory%' THEN 'out_of_memory' "
               "WHEN error LIKE 'bad data%' THEN 'bad_data' WHEN error LIKE 'missing model%' THEN 'missing_model' "
               "WHEN error LIKE 'the worker process died%' THEN 'worker_died' ELSE 'error' END WHERE status = 'failed'")


def _migrate_4(db: sqlite_utils.Database) -> None:
    """v3 → v4: sweeps, and the sweep, trial number, settings and result of a trial's job."""
    for column in ("sweep_id INTEGER REFERENCES sweeps(id)", "trial INTEGER", "trial_settings TEXT", "result TEXT"):
        db.execute(f"ALTER TABLE jobs ADD COLUMN {column}")
    for statement in _statements(_schema_without_pragma()):
        if "sweeps" in statement and statement.lstrip().startswith("CREATE TABLE"):
            db.execute(statement)


# Numbered migrations: MIGRATIONS[n] upgrades a database at user_version n-1 to n.
MIGRATIONS: dict[int, Any] = {2: _migrate_2, 3: _migrate_3, 4: _migrate_4}


def _schema_without_pragma() -> str:
    return "\n".join(line for line in SCHEMA_FILE.read_text(encoding="utf-8").splitlines()
                     if not line.startswith("PRAGMA user_version"))


def _statements(script: str) -> list[str]:
    """The complete SQL statements of a script, in order."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip().strip(";").strip() and not all(
                    ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()):
                out.append(buf)
            buf = ""
    return out
