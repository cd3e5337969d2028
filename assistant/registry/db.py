"""The registry database: every SQL statement of Tailor lives here.

`registry.db` in the data home, schema in `registry.db.sql` (applied through sqlite-utils), WAL mode and
foreign keys on, so the web app, the CLI and training workers can read and write it at the same time.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from ..config import Home

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "registry.db.sql"
SCHEMA_VERSION = 1
# Numbered migrations: MIGRATIONS[n] upgrades a database at user_version n-1 to n.
MIGRATIONS: dict[int, Any] = {}

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Registry:
    """All reads and writes of `registry.db`. Safe to share across threads (one connection per thread)."""

    def __init__(self, home: Home):
        self.home = home
        self._local = threading.local()
        self.migrate()

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.home.db_path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            db = self._local.db = sqlite_utils.Database(conn)
        return db

    def migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            self.db.executescript(SCHEMA_FILE.read_text(encoding="utf-8"))
            return
        for n in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[n](self.db)
            self.db.execute(f"PRAGMA user_version = {n}")

    # -- plans and datasets ----------------------------------------------------------------------------
    def add_plan(self, plan_json: str, conversation: list[str] | None = None) -> int:
        return self.db["plans"].insert(
            {"json": plan_json, "conversation": json.dumps(conversation or [], ensure_ascii=False), "created": now()}
        ).last_pk

    def plan(self, plan_id: int) -> dict:
        return self.db["plans"].get(plan_id)

    def add_dataset(self, sha256: str, path: str, rows: int, fmt: str, mapping: dict) -> None:
        self.db["datasets"].insert(
            {"sha256": sha256, "path": path, "rows": rows, "format": fmt, "mapping": json.dumps(mapping),
             "created": now()}, ignore=True)

    # -- jobs ------------------------------------------------------------------------------------------
    def submit_job(self, plan_id: int) -> int:
        return self.db["jobs"].insert({"plan_id": plan_id, "status": "queued", "created": now()}).last_pk

    def job(self, job_id: int) -> dict | None:
        rows = list(self.db.query("select * from jobs where id = ?", [job_id]))
        return rows[0] if rows else None

    def jobs(self, status: str | None = None, limit: int = 100) -> list[dict]:
        if status:
            return list(self.db.query("select * from jobs where status = ? order by id desc limit ?", [status, limit]))
        return list(self.db.query("select * from jobs order by id desc limit ?", [limit]))

    def update_job(self, job_id: int, **fields: Any) -> None:
        self.db["jobs"].update(job_id, fields)

    def cancel_requested(self, job_id: int) -> bool:
        row = self.db.execute("select cancel_requested from jobs where id = ?", [job_id]).fetchone()
        return bool(row and row[0])

    def claim_next_job(self) -> dict | None:
        """Atomically mark the oldest queued job running, if no job is running. One job at a time."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            running = conn.execute("select count(*) from jobs where status = 'running'").fetchone()[0]
            row = None if running else conn.execute(
                "select id from jobs where status = 'queued' order by id limit 1").fetchone()
            if row:
                conn.execute("update jobs set status = 'running', started = ?, attempts = attempts + 1, "
                             "error = null, finished = null where id = ?", [now(), row[0]])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return self.job(row[0]) if row else None

    def add_metric(self, job_id: int, metric: dict) -> None:
        cols = ("step", "epoch", "loss", "eval_loss", "learning_rate", "tokens_per_second", "peak_memory_gb", "eta_seconds")
        self.db["job_metrics"].insert({"job_id": job_id, "time": now(), **{k: metric.get(k) for k in cols}})

    def metrics(self, job_id: int) -> list[dict]:
        return list(self.db.query("select * from job_metrics where job_id = ? order by rowid", [job_id]))

    def add_log(self, job_id: int, line: str) -> None:
        self.db["job_logs"].insert({"job_id": job_id, "time": now(), "line": line})

    def logs(self, job_id: int, tail: int = 50) -> list[str]:
        rows = self.db.query("select line from job_logs where job_id = ? order by id desc limit ?", [job_id, tail])
        return [r["line"] for r in rows][::-1]

    # -- adapters --------------------------------------------------------------------------------------
    def next_version(self, name: str) -> int:
        row = self.db.execute("select max(version) from adapters where name = ?", [name]).fetchone()
        return (row[0] or 0) + 1

    def add_adapter(self, record: dict) -> dict:
        rec = {"created": now(), **record}
        for key in ("metrics", "library_versions"):
            if isinstance(rec.get(key), dict):
                rec[key] = json.dumps(rec[key])
        pk = self.db["adapters"].insert(rec).last_pk
        return self.adapter_by_id(pk)

    def adapter_by_id(self, adapter_id: int) -> dict | None:
        rows = list(self.db.query("select * from adapters where id = ?", [adapter_id]))
        return _decode_adapter(rows[0]) if rows else None

    def adapter(self, name: str, version: int | None = None) -> dict | None:
        """An adapter by name (latest version unless one is given), by `name:version`, or by alias."""
        if version is None and ":" in name:
            name, _, v = name.rpartition(":")
            version = int(v) if v.isdigit() else None
        alias = self.db.execute("select adapter_id from aliases where alias = ?", [name]).fetchone()
        if alias:
            return self.adapter_by_id(alias[0])
        if version is None:
            rows = list(self.db.query("select * from adapters where name = ? order by version desc limit 1", [name]))
        else:
            rows = list(self.db.query("select * from adapters where name = ? and version = ?", [name, version]))
        return _decode_adapter(rows[0]) if rows else None

    def adapters(self, limit: int = 1000) -> list[dict]:
        rows = self.db.query("select * from adapters order by id desc limit ?", [limit])
        return [_decode_adapter(r) for r in rows]


def _decode_adapter(row: dict) -> dict:
    row = dict(row)
    for key in ("metrics", "library_versions"):
        row[key] = json.loads(row.get(key) or "{}")
    return row
