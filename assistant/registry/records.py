"""The registry's records as typed values: an `Adapter` version and a training `Job`.

`Registry` returns these, never raw rows; `to_dict()` gives the JSON the API, `tailor adapters show` and the
lineage use. `new_adapter` is the one constructor of a row to insert (trained, imported or adopted).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Adapter:
    """One registered adapter version (a row of `adapters`, with its tags and aliases)."""

    id: int
    name: str
    version: int
    base_model: str
    base_source: str
    path: str
    """Its folder, relative to the data home: adapters/<name>/<version>."""
    weights_sha256: str
    size_bytes: int
    created: str
    description: str = ""
    task: str | None = None
    plan_id: int | None = None
    dataset_sha256: str | None = None
    job_id: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    library_versions: dict[str, str] = field(default_factory=dict)
    parent_id: int | None = None
    status: str = "ready"
    """ready | missing | corrupt (set by `tailor adapters check`)."""
    base_revision: str | None = None
    origin: str = "trained"
    """trained | imported."""
    tags: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """`name:version`, how the page, the API and the engine name it."""
        return f"{self.name}:{self.version}"

    @classmethod
    def from_row(cls, row: dict, tags: list[str] = (), aliases: list[str] = ()) -> Adapter:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in row.items() if k in known}
        for key in ("metrics", "library_versions"):
            values[key] = json.loads(values.get(key) or "{}")
        return cls(**values, tags=list(tags), aliases=list(aliases))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Job:
    """One training job (a row of `jobs`)."""

    id: int
    plan_id: int
    status: str
    """queued | running | succeeded | failed | cancelled."""
    created: str
    pid: int | None = None
    started: str | None = None
    finished: str | None = None
    step: int = 0
    total_steps: int | None = None
    error: str | None = None
    """The failure in plain words."""
    failure: str | None = None
    """The kind of failure: out_of_memory | bad_data | missing_model | worker_died | error."""
    cancel_requested: int = 0
    attempts: int = 0
    adapter_id: int | None = None
    sweep_id: int | None = None
    """The sweep this job is a trial of (None: an ordinary job)."""
    trial: int | None = None
    """Its number in the sweep, from 1."""
    trial_settings: dict[str, float] = field(default_factory=dict)
    """The trial's settings: field path → value."""
    result: dict[str, Any] = field(default_factory=dict)
    """A trial's final metrics (and `pruned`, `verdict`); a trial registers no adapter itself."""

    @classmethod
    def from_row(cls, row: dict) -> Job:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in row.items() if k in known}
        for key in ("trial_settings", "result"):
            values[key] = json.loads(values.get(key) or "{}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def new_adapter(name: str, *, base_model: str, base_source: str, weights_sha256: str, origin: str = "trained",
                task: str | None = None, description: str = "", plan_id: int | None = None, job_id: int | None = None,
                dataset_sha256: str | None = None, metrics: dict | None = None, library_versions: dict | None = None,
                base_params_b: float | None = None) -> dict[str, Any]:
    """The fields of an adapter row to register; the registry adds its version, folder, size and time."""
    return {"name": name, "base_model": base_model, "base_source": base_source, "weights_sha256": weights_sha256,
            "origin": origin, "task": task, "description": description, "plan_id": plan_id, "job_id": job_id,
            "dataset_sha256": dataset_sha256, "metrics": metrics or {}, "library_versions": library_versions or {},
            "base_params_b": base_params_b}
