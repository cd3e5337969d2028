"""The registry's sweep statements: a sweep row, its trials (jobs with its sweep_id), and the claim that lets
exactly one process register a finished sweep's winner. Mixed into `Registry`."""

from __future__ import annotations

import json
from typing import Any

from .records import Job


class SweepRows:
    """`Registry`'s sweep methods (it provides `db`, `transaction`, `add_plan`, `now`)."""

    def add_sweep(self, plan_id: int, metric: str, trials: list[tuple[int, dict]]) -> tuple[int, list[int]]:
        """A sweep and its queued trial jobs (plan id, settings) in one transaction: (sweep id, job ids)."""
        from .db import now

        with self.transaction() as conn:
            sweep_id = conn.execute("insert into sweeps(plan_id, status, metric, created) values (?, 'running', ?, ?)",
                                    [plan_id, metric, now()]).lastrowid
            jobs = [conn.execute("insert into jobs(plan_id, status, created, sweep_id, trial, trial_settings) "
                                 "values (?, 'queued', ?, ?, ?, ?)",
                                 [trial_plan, now(), sweep_id, i + 1, json.dumps(settings)]).lastrowid
                    for i, (trial_plan, settings) in enumerate(trials)]
        return sweep_id, jobs

    def sweep(self, sweep_id: int) -> dict | None:
        rows = list(self.db.query("select * from sweeps where id = ?", [sweep_id]))
        return rows[0] if rows else None

    def sweeps(self, status: str | None = None, limit: int = 50) -> list[dict]:
        where, args = ("where status = ?", [status]) if status else ("", [])
        return list(self.db.query(f"select * from sweeps {where} order by id desc limit ?", [*args, limit]))

    def update_sweep(self, sweep_id: int, **fields: Any) -> None:
        self.db["sweeps"].update(sweep_id, fields)

    def trials(self, sweep_id: int) -> list[Job]:
        rows = self.db.query("select * from jobs where sweep_id = ? order by trial", [sweep_id])
        return [Job.from_row(r) for r in rows]

    def claim_settle(self, sweep_id: int, pid: int, stale_pid: int | None = None) -> bool:
        """Mark the sweep `settling` by `pid` when every trial has ended and no live process is settling it
        (`stale_pid`: a settler seen dead by the caller). True when this process may register the winner."""
        with self.transaction() as conn:
            busy = conn.execute("select count(*) from jobs where sweep_id = ? and status in ('queued', 'running')",
                                [sweep_id]).fetchone()[0]
            if busy:
                return False
            cur = conn.execute("update sweeps set status = 'settling', settler_pid = ? where id = ? and "
                               "(status = 'running' or (status = 'settling' and settler_pid is ?))",
                               [pid, sweep_id, stale_pid])
            return cur.rowcount == 1
