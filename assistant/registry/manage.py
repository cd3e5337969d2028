"""Registry operations on adapters and their folders: delete, rename, check/repair.

Import (validated before anything is stored) lives in `imports.py` and is re-exported here.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..data.load import sha256_file
from ..plan import Plan
from .db import Registry, version_number
from .errors import RegistryError
from .imports import clean_name, import_adapter
from .records import Adapter, new_adapter
from .store import WEIGHTS, adapter_dir, read_plan

__all__ = ["RegistryError", "check", "delete_adapter", "import_adapter", "rename_adapter"]


# -- delete and rename -------------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def busy_reason(registry: Registry, record: Adapter) -> str | None:
    """Why an adapter cannot be deleted or renamed now (served by a live engine, or its name being trained)."""
    for lease in registry.leases(record.id):
        if _pid_alive(lease["pid"]):
            return f"{record.label} is being served ({lease['holder']}); unload it or stop the app first"
        registry.release(record.id, lease["holder"])  # stale: its process is gone
    for job in registry.jobs(status="running") + registry.jobs(status="queued"):
        plan = json.loads(registry.plan(job.plan_id)["json"])
        if plan.get("name") == record.name:
            return f"job {job.id} is training a new version of {record.name}; wait for it or cancel it"
    return None


def delete_adapter(registry: Registry, record: Adapter) -> None:
    """Remove one adapter version: its row, tags, aliases and folder."""
    if (why := busy_reason(registry, record)) is not None:
        raise RegistryError(why)
    folder = adapter_dir(registry, record)
    trash = folder.with_name(f".{folder.name}.deleting")
    if folder.exists():
        folder.rename(trash)
    registry.delete_adapter(record.id)
    shutil.rmtree(trash, ignore_errors=True)
    try:
        folder.parent.rmdir()  # the name's folder, once its last version is gone
    except OSError:
        pass


def rename_adapter(registry: Registry, old: str, new: str) -> list[Adapter]:
    """Give every version of an adapter a new name (folders move with it; aliases keep pointing at them)."""
    new = clean_name(new)
    versions = registry.versions(old)
    if not versions:
        raise RegistryError(f"no adapter named {old!r}")
    if registry.versions(new):
        raise RegistryError(f"an adapter named {new!r} already exists; choose another name")
    for rec in versions:
        if (why := busy_reason(registry, rec)) is not None:
            raise RegistryError(why)
    src, dst = registry.home.adapters / old, registry.home.adapters / new
    if src.exists():
        src.rename(dst)
    registry.rename_adapter(new, {r.id: str((dst / str(r.version)).relative_to(registry.home.root))
                                       for r in versions})
    return registry.versions(new)


# -- check and repair -------------------------------------------------------------------------------------
def check(registry: Registry, repair: bool = False) -> list[str]:
    """Where the registry and the adapter folders disagree, one line each; with `repair`, fix each one.

    Missing folder → status `missing`; weights whose sha256 changed → `corrupt`; a status that is no longer
    true → `ready`; a version folder the registry does not know → registered (its own adapter_config and
    plan); leftover partial folders → removed.
    """
    problems = []
    for rec in registry.search(limit=10**9):
        folder = adapter_dir(registry, rec)
        label = f"{rec.label}"
        if not (folder / WEIGHTS).exists():
            state, msg = "missing", f"{label}: folder {rec.path} is missing or has no weights"
        elif sha256_file(folder / WEIGHTS) != rec.weights_sha256:
            state, msg = "corrupt", f"{label}: weights changed on disk (sha256 differs from the registry)"
        else:
            state, msg = "ready", f"{label}: files are back; was marked {rec.status}"
        if state != rec.status:
            problems.append(msg + (f" → marked {state}" if repair else ""))
            if repair:
                registry.update_adapter(rec.id, status=state)
    known = {r.path for r in registry.search(limit=10**9)}
    root = registry.home.adapters
    for folder in sorted(root.glob("*/*")) if root.exists() else []:
        rel = str(folder.relative_to(registry.home.root))
        if folder.name.startswith("."):
            problems.append(f"{rel}: left over from an interrupted write" + (" → removed" if repair else ""))
            if repair:
                shutil.rmtree(folder, ignore_errors=True)
        elif folder.is_dir() and rel not in known and (folder / "adapter_config.json").exists():
            msg = f"{rel}: an adapter folder the registry does not know"
            if repair:
                try:
                    rec = _register_in_place(registry, folder)
                    msg += f" → registered as {rec.label}"
                except RegistryError as e:
                    msg += f" → not registered: {e}"
            problems.append(msg)
    return problems


def _register_in_place(registry: Registry, folder: Path) -> Adapter:
    """Register a version folder the registry does not know: a job's adapter (found by its weights) with the
    job's full lineage, else as imported after checking its config and weights parse."""
    from ..train.worker import read_result, register_result
    from .adapter_checks import parse_config

    name, version = folder.parent.name, version_number(folder.name)
    if version is None or registry.adapter(name, version) is not None:
        raise RegistryError("its folder name is not a free version number")
    if not (folder / WEIGHTS).exists():
        raise RegistryError(f"no {WEIGHTS}")
    sha = sha256_file(folder / WEIGHTS)
    for job in registry.jobs(limit=10**9):
        out = registry.home.job_dir(job.id)
        done = None if job.adapter_id else read_result(out)
        if done is not None and sha256_file(out / "adapter" / WEIGHTS) == sha:
            plan = Plan.from_json(registry.plan(job.plan_id)["json"])
            rec = register_result(registry, job.id, job.plan_id, plan, done)
            registry.update_job(job.id, status="succeeded", adapter_id=rec.id, pid=None, error=None)
            return rec
    cfg = parse_config((folder / "adapter_config.json").read_bytes(), str(folder))
    try:
        from safetensors import safe_open

        with safe_open(str(folder / WEIGHTS), framework="pt") as f:
            if not any(".lora_A." in k for k in f.keys()):
                raise RegistryError(f"{WEIGHTS} holds no LoRA tensors")
    except RegistryError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure means the file is not valid safetensors
        raise RegistryError(f"{WEIGHTS} is not a valid safetensors file ({e})") from None
    plan = read_plan(folder)
    base = plan.get("base_model") if isinstance(plan.get("base_model"), dict) else {}
    task = plan.get("task") if isinstance(plan.get("task"), dict) else {}
    record = new_adapter(name, base_model=base.get("name") or Path(str(cfg.get("base_model_name_or_path", ""))).name,
                         base_source=base.get("source") or str(cfg.get("base_model_name_or_path", "")),
                         weights_sha256=sha, origin="imported", task=task.get("type"),
                         description=task.get("description", ""))
    return registry.register_version(record, lambda v: folder, version=version)
