"""The registry database: every SQL statement of Tailor lives here (the schema's migrations in migrations.py).

`registry.db` in the data home, schema in `registry.db.sql` (applied through sqlite-utils), WAL mode and
foreign keys on, so the web app, the CLI and training workers can read and write it at the same time.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

from ..config import Home
from ..faults import fault_point
from .errors import RegistryError
from .migrations import MIGRATIONS, SCHEMA_FILE, SCHEMA_VERSION
from .records import Adapter, Job
from .sweep_rows import SweepRows


def _index_adapter(db: sqlite_utils.Database, adapter_id: int) -> None:
    """Refresh one adapter's row in the full-text index (or drop it when the adapter is gone)."""
    db.execute("delete from adapter_search where rowid = ?", [adapter_id])
    row = db.execute("select name, description, task, base_model from adapters where id = ?", [adapter_id]).fetchone()
    if row:
        tags = " ".join(t for (t,) in db.execute("select tag from tags where adapter_id = ? order by tag",
                                                 [adapter_id]))
        db.execute("insert into adapter_search(rowid, name, description, task, base_model, tags) "
                   "values (?, ?, ?, ?, ?, ?)",
                   [adapter_id, row[0].replace("-", " ").replace("_", " ") + " " + row[0], row[1] or "", row[2] or "",
                    row[3] or "", tags])



def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def version_number(text: str) -> int | None:
    """A version as written in a reference (`name:3`) or a folder's name, or None: ASCII digits that fit SQLite's
    integers only (`str.isdigit` takes "²", which `int` refuses)."""
    return int(text) if re.fullmatch(r"[0-9]{1,18}", text) else None


class Registry(SweepRows):
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
        """Create a new registry from the schema file, or upgrade an older one in place, one step at a time.

        Each step runs in one transaction with its version bump, so a failed upgrade leaves the old
        database as it was.
        """
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            self.db.executescript(SCHEMA_FILE.read_text(encoding="utf-8"))
            return
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.home.db_path} has schema version {version}, newer than this Tailor "
                               f"({SCHEMA_VERSION}); upgrade Tailor")
        for n in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                MIGRATIONS[n](self.db)
                self.db.execute(f"PRAGMA user_version = {n}")

    @contextlib.contextmanager
    def transaction(self, immediate: bool = True):
        """One transaction on this thread's connection: committed when the block ends, rolled back if it raises."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- plans and datasets ----------------------------------------------------------------------------
    def add_plan(self, plan_json: str, conversation: list[str | dict] | None = None) -> int:
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

    def job(self, job_id: int) -> Job | None:
        if not 0 < job_id < 2**63:  # no row has it, and SQLite cannot even be asked (OverflowError)
            return None
        rows = list(self.db.query("select * from jobs where id = ?", [job_id]))
        return Job.from_row(rows[0]) if rows else None

    def jobs(self, status: str | None = None, limit: int = 100) -> list[Job]:
        if status:
            rows = self.db.query("select * from jobs where status = ? order by id desc limit ?", [status, limit])
        else:
            rows = self.db.query("select * from jobs order by id desc limit ?", [limit])
        return [Job.from_row(r) for r in rows]

    def update_job(self, job_id: int, **fields: Any) -> None:
        self.db["jobs"].update(job_id, fields)

    def cancel_requested(self, job_id: int) -> bool:
        row = self.db.execute("select cancel_requested from jobs where id = ?", [job_id]).fetchone()
        return bool(row and row[0])

    def claim_next_job(self) -> Job | None:
        """Atomically mark the oldest queued job running, if no job is running. One job at a time."""
        with self.transaction() as conn:
            running = conn.execute("select count(*) from jobs where status = 'running'").fetchone()[0]
            row = None if running else conn.execute(
                "select id from jobs where status = 'queued' order by id limit 1").fetchone()
            if row:
                conn.execute("update jobs set status = 'running', started = ?, attempts = attempts + 1, "
                             "error = null, failure = null, finished = null where id = ?", [now(), row[0]])
        return self.job(row[0]) if row else None

    def add_metric(self, job_id: int, metric: dict) -> None:
        cols = ("step", "epoch", "loss", "eval_loss", "learning_rate", "tokens_per_second", "peak_memory_gb",
                "eta_seconds")
        self.db["job_metrics"].insert({"job_id": job_id, "time": now(), **{k: metric.get(k) for k in cols}})

    def metrics(self, job_id: int) -> list[dict]:
        return list(self.db.query("select * from job_metrics where job_id = ? order by rowid", [job_id]))

    def add_log(self, job_id: int, line: str) -> None:
        self.db["job_logs"].insert({"job_id": job_id, "time": now(), "line": line})

    def logs(self, job_id: int, tail: int = 50) -> list[str]:
        rows = self.db.query("select line from job_logs where job_id = ? order by id desc limit ?", [job_id, tail])
        return [r["line"] for r in rows][::-1]

    # -- adapters --------------------------------------------------------------------------------------
    def register_version(self, record: dict, place, version: int | None = None) -> Adapter:
        """Register a new version of `record["name"]`: allocate the version, let `place(version)` move its
        folder into `adapters/<name>/<version>/` and return it, insert the row — all in one transaction.

        Two writers never get the same version (the second waits for the first's commit), a version folder
        left on disk by a crash is never reused, and a crash before the commit leaves no row (the folder is
        then found again by its weights' sha256, see `store.adopt_orphan`). `version` registers a folder that
        is already in place at that version."""
        name = record["name"]
        with self.transaction() as conn:
            if version is None:
                row = conn.execute("select max(version) from adapters where name = ?", [name]).fetchone()
                folder = self.home.adapters / name
                on_disk = [v for p in folder.iterdir() if (v := version_number(p.name)) is not None] \
                    if folder.exists() else []
                version = max([(row[0] or 0) + 1, *(v + 1 for v in on_disk)])
            final = place(version)
            fault_point("rename_insert")
            size = sum(f.stat().st_size for f in final.iterdir() if f.is_file())
            pk = self._insert_adapter({"size_bytes": size, **record, "version": version,
                                       "path": str(final.relative_to(self.home.root))})
        return self.adapter_by_id(pk)

    def adapter_by_job(self, job_id: int) -> Adapter | None:
        rows = list(self.db.query("select * from adapters where job_id = ? limit 1", [job_id]))
        return self._full(rows[0]) if rows else None

    def add_base_model(self, name: str, source: str, params_b: float | None) -> None:
        self.db.execute("insert into base_models(name, source, params_b, created) values (?, ?, ?, ?) "
                        "on conflict(name) do update set source = excluded.source, "
                        "params_b = coalesce(excluded.params_b, base_models.params_b)", [name, source, params_b, now()])

    def base_models(self) -> list[dict]:
        return list(self.db.query("select * from base_models order by name"))

    def add_adapter(self, record: dict) -> Adapter:
        """Register an adapter (and its base model). Fills `base_revision` from the base's files when it can."""
        return self.adapter_by_id(self._insert_adapter(record))

    def add_adapters(self, records: list[dict]) -> None:
        """Many adapters in one transaction (bulk registration, benchmarks)."""
        with self.transaction(immediate=False):
            for r in records:
                self._insert_adapter(r)

    def _insert_adapter(self, record: dict) -> int:
        from ..models.resolve import base_revision

        rec = {"created": now(), **record}
        params_b = rec.pop("base_params_b", None)
        if rec.get("base_revision") is None and rec.get("base_source"):
            rec["base_revision"] = base_revision(rec["base_source"])
        if rec.get("base_model"):
            self.add_base_model(rec["base_model"], rec.get("base_source") or "", params_b)
        pk = self.db["adapters"].insert(_encode_json_fields(rec)).last_pk
        _index_adapter(self.db, pk)
        return pk

    def update_adapter(self, adapter_id: int, **fields: Any) -> Adapter:
        self.db["adapters"].update(adapter_id, _encode_json_fields(fields))
        _index_adapter(self.db, adapter_id)
        return self.adapter_by_id(adapter_id)

    def adapter_by_id(self, adapter_id: int) -> Adapter | None:
        rows = list(self.db.query("select * from adapters where id = ?", [adapter_id]))
        return self._full(rows[0]) if rows else None

    def adapter(self, name: str, version: int | None = None) -> Adapter | None:
        """An adapter by name (latest version unless one is given), by `name:version`, or by alias. A reference
        comes from anyone who may call the API: one that names no version ("alpha:latest", "alpha:²", a version past
        SQLite's integers) finds nothing, rather than the latest version or an error."""
        if version is None:
            alias = self.db.execute("select adapter_id from aliases where alias = ?", [name]).fetchone()
            if alias:
                return self.adapter_by_id(alias[0])
            if ":" in name:
                name, _, v = name.rpartition(":")
                if (version := version_number(v)) is None:
                    return None
        if version is None:
            rows = list(self.db.query("select * from adapters where name = ? order by version desc limit 1", [name]))
        else:
            rows = list(self.db.query("select * from adapters where name = ? and version = ?", [name, version]))
        return self._full(rows[0]) if rows else None

    def adapter_by_sha(self, weights_sha256: str) -> Adapter | None:
        rows = list(self.db.query("select * from adapters where weights_sha256 = ? limit 1", [weights_sha256]))
        return self._full(rows[0]) if rows else None

    def require_adapter(self, ref: str) -> Adapter:
        """The adapter `ref` names (name, name:version or alias), or RegistryError saying how to find one."""
        rec = self.adapter(ref or "")
        if rec is None:
            raise RegistryError(f"no adapter named {ref!r} (use name, name:version or an alias; "
                                "`tailor adapters list` shows them)")
        return rec

    def _full(self, row: dict) -> Adapter:
        aid = row["id"]
        tags = [t for (t,) in self.db.execute("select tag from tags where adapter_id = ? order by tag", [aid])]
        aliases = [a for (a,) in self.db.execute("select alias from aliases where adapter_id = ? order by alias",
                                                 [aid])]
        return Adapter.from_row(row, tags, aliases)

    def adapters(self, limit: int = 1000) -> list[Adapter]:
        return self.search(limit=limit)

    def search(self, query: str = "", *, task: str | None = None, base_model: str | None = None,
               tag: str | None = None, sort: str | None = None, descending: bool = True, limit: int = 50,
               offset: int = 0) -> list[Adapter]:
        """Adapters matching all of: words (full text over name, description, task, base model, tags; prefixes
        match), task, base model, tag. Newest first, or by a final metric (`sort="accuracy"`)."""
        where, args = [], []
        if query.strip():
            words = re.findall(r"\w+", query, re.UNICODE)
            if words:
                where.append("a.id in (select rowid from adapter_search where adapter_search match ?)")
                args.append(" AND ".join(f'"{w}"*' for w in words))
        if task:
            where.append("a.task = ?")
            args.append(task)
        if base_model:
            where.append("a.base_model = ?")
            args.append(base_model)
        if tag:
            where.append("a.id in (select adapter_id from tags where tag = ?)")
            args.append(tag)
        order = "a.id desc"
        if sort:
            if not re.fullmatch(r"[A-Za-z0-9_]+", sort):
                raise ValueError(f"cannot sort by {sort!r}: use a metric name such as accuracy or eval_loss")
            order = f"json_extract(a.metrics, '$.{sort}') is null, json_extract(a.metrics, '$.{sort}') " + (
                "desc" if descending else "asc") + ", a.id desc"
        sql = "select a.* from adapters a" + (" where " + " and ".join(where) if where else "") + \
              f" order by {order} limit ? offset ?"
        rows = list(self.db.query(sql, [*args, limit, offset]))
        if rows:
            ids = [r["id"] for r in rows]
            marks = ",".join("?" * len(ids))
            tags: dict[int, list[str]] = {}
            query = f"select adapter_id, tag from tags where adapter_id in ({marks}) order by tag"
            for aid, t in self.db.execute(query, ids):
                tags.setdefault(aid, []).append(t)
            aliases: dict[int, list[str]] = {}
            for aid, al in self.db.execute(f"select adapter_id, alias from aliases where adapter_id in ({marks})", ids):
                aliases.setdefault(aid, []).append(al)
        return [Adapter.from_row(r, tags.get(r["id"], []), aliases.get(r["id"], [])) for r in rows]

    def metric_names(self) -> list[str]:
        """Every numeric final metric some registered adapter has (what the registry can sort by)."""
        return [k for (k,) in self.db.execute(
            "select distinct j.key from adapters a, json_each(a.metrics) j where j.type in ('integer', 'real') "
            "order by j.key")]

    def count_adapters(self) -> int:
        return self.db.execute("select count(*) from adapters").fetchone()[0]

    def versions(self, name: str) -> list[Adapter]:
        rows = self.db.query("select * from adapters where name = ? order by version", [name])
        return [Adapter.from_row(r) for r in rows]

    def lineage(self, adapter_id: int) -> dict:
        """Everything an adapter came from: conversation → plan → dataset → job (+ metrics) → versions → parent."""
        rec = self.adapter_by_id(adapter_id)
        if rec is None:
            return {}
        plan = self.db["plans"].get(rec.plan_id) if rec.plan_id else None
        ds = (list(self.db.query("select * from datasets where sha256 = ?", [rec.dataset_sha256]))
              if rec.dataset_sha256 else [])
        job = self.job(rec.job_id) if rec.job_id else None
        metrics = self.metrics(rec.job_id) if job else []
        parent = self.adapter_by_id(rec.parent_id) if rec.parent_id else None
        return {
            "adapter": rec.to_dict(),
            "conversation": json.loads(plan["conversation"]) if plan else [],
            "plan": json.loads(plan["json"]) if plan else None,
            "dataset": ds[0] if ds else None,
            "job": job.to_dict() if job else None,
            "metrics": {"points": len(metrics),
                        "first_loss": next((m["loss"] for m in metrics if m["loss"] is not None), None),
                        "last_loss": next((m["loss"] for m in reversed(metrics) if m["loss"] is not None), None),
                        "final": rec.metrics},
            "versions": [{"version": v.version, "created": v.created, "weights_sha256": v.weights_sha256,
                          "metrics": v.metrics} for v in self.versions(rec.name)],
            "parent": parent.to_dict() if parent else None,
        }

    # -- tags, aliases, names ----------------------------------------------------------------------------
    def tag(self, adapter_id: int, tags: list[str], remove: bool = False) -> None:
        for t in tags:
            if remove:
                self.db.execute("delete from tags where adapter_id = ? and tag = ?", [adapter_id, t])
            else:
                self.db.execute("insert or ignore into tags(adapter_id, tag) values (?, ?)", [adapter_id, t])
        _index_adapter(self.db, adapter_id)

    def set_alias(self, alias: str, adapter_id: int) -> None:
        """Point a movable alias (e.g. `production`) at an adapter version, moving it if it exists. An alias
        needs a name of its own: an adapter's name would make `name` mean two things. It is written like a name
        (no colon: `demo:1` must keep meaning version 1 of demo; no spaces: it travels in API requests)."""
        if not alias.strip():
            raise RegistryError("an alias needs a name")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", alias):
            raise RegistryError(f"{alias[:100]!r} is not a usable alias: use up to 80 letters, digits, '-', '_' or "
                                "'.' (a colon would read as name:version)")
        if self.versions(alias):
            raise RegistryError(f"{alias!r} is an adapter's name; an alias needs a name of its own")
        self.db.execute("insert into aliases(alias, adapter_id) values (?, ?) "
                        "on conflict(alias) do update set adapter_id = excluded.adapter_id", [alias, adapter_id])

    def remove_alias(self, alias: str) -> bool:
        return self.db.execute("delete from aliases where alias = ?", [alias]).rowcount > 0

    def rename_adapter(self, new: str, paths: dict[int, str]) -> None:
        with self.transaction() as conn:
            for aid, path in paths.items():
                conn.execute("update adapters set name = ?, path = ? where id = ?", [new, path, aid])
                _index_adapter(self.db, aid)

    def delete_adapter(self, adapter_id: int) -> None:
        with self.transaction():
            self.db.execute("update jobs set adapter_id = null where adapter_id = ?", [adapter_id])
            self.db.execute("update adapters set parent_id = null where parent_id = ?", [adapter_id])
            self.db.execute("delete from adapters where id = ?", [adapter_id])
            _index_adapter(self.db, adapter_id)

    # -- evaluation runs and arena votes --------------------------------------------------------------------
    def add_eval_run(self, eval_sha256: str, settings: dict, results: dict) -> int:
        return self.db["eval_runs"].insert({"created": now(), "eval_sha256": eval_sha256,
                                            "settings": json.dumps(settings),
                                            "results": json.dumps(results, ensure_ascii=False)}).last_pk

    def eval_run(self, run_id: int) -> dict | None:
        rows = list(self.db.query("select * from eval_runs where id = ?", [run_id]))
        if not rows:
            return None
        r = dict(rows[0])
        r["settings"], r["results"] = json.loads(r["settings"]), json.loads(r["results"])
        return r

    def eval_runs(self, limit: int = 50) -> list[dict]:
        rows = self.db.query("select id, created, eval_sha256 from eval_runs order by id desc limit ?", [limit])
        return [dict(r) for r in rows]

    def add_vote(self, prompt: str, model_a: str, model_b: str, winner: str) -> int:
        if winner not in ("a", "b", "tie", "both_bad"):
            raise ValueError(f"a vote is a, b, tie or both_bad, not {winner!r}")
        return self.db["votes"].insert({"created": now(), "prompt": prompt, "model_a": model_a, "model_b": model_b,
                                        "winner": winner}).last_pk

    def votes(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.db.execute("select model_a, model_b, winner from votes order by id")]

    # -- leases: who is using an adapter right now -------------------------------------------------------
    def lease(self, adapter_id: int, holder: str, pid: int) -> None:
        self.db.execute("insert or replace into adapter_leases(adapter_id, holder, pid, since) values (?, ?, ?, ?)",
                        [adapter_id, holder, pid, now()])

    def release(self, adapter_id: int, holder: str) -> None:
        self.db.execute("delete from adapter_leases where adapter_id = ? and holder = ?", [adapter_id, holder])

    def leases(self, adapter_id: int) -> list[dict]:
        return list(self.db.query("select * from adapter_leases where adapter_id = ?", [adapter_id]))


def _encode_json_fields(rec: dict) -> dict:
    """The adapter columns stored as JSON text (metrics, library_versions), encoded when given as dicts."""
    return {k: json.dumps(v) if k in ("metrics", "library_versions") and isinstance(v, dict) else v
            for k, v in rec.items()}


