"""The adapter store: `adapters/<name>/<version>/` folders in Hugging Face PEFT layout, and their zips.

A folder holds exactly what `PeftModel.from_pretrained` loads (adapter_config.json,
adapter_model.safetensors), a model card README.md (`base_model`, `library_name: peft`), plan.json and the
training log. A download is that folder zipped.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from ..config import Home
from ..data.load import sha256_file
from .db import Registry

WEIGHTS = "adapter_model.safetensors"


def model_card(name: str, version: int, plan: dict, base_hub_id: str, metrics: dict) -> str:
    task = plan.get("task", {})
    lo, tr = plan.get("lora", {}), plan.get("training", {})
    metric_lines = "\n".join(f"| {k} | {v:.4g} |" if isinstance(v, (int, float)) else f"| {k} | {v} |"
                             for k, v in metrics.items()) or "| — | — |"
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

## Metrics

| metric | value |
|---|---|
{metric_lines}

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
                  extra_files: list[Path] = (), library_versions: dict | None = None) -> dict:
    """Copy a trained adapter into the store, write its card and plan, and register it. Returns the record.

    The folder is written under a temporary name and renamed into place, so a crash never leaves a
    half-written version that the registry points to.
    """
    home: Home = registry.home
    name = plan.get("name") or "adapter"
    version = registry.next_version(name)
    final = home.adapters / name / str(version)
    tmp = final.with_name(f".{version}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for fname in ("adapter_config.json", WEIGHTS):
        shutil.copy2(trained_dir / fname, tmp / fname)
    for extra in extra_files:
        if extra.exists():
            shutil.copy2(extra, tmp / extra.name)
    (tmp / "plan.json").write_text(json.dumps(plan, indent=2, ensure_ascii=False), encoding="utf-8")
    (tmp / "README.md").write_text(model_card(name, version, plan, base_hub_id, metrics), encoding="utf-8")
    if log_file is not None and log_file.exists():
        shutil.copy2(log_file, tmp / "training_log.jsonl")
    size = sum(f.stat().st_size for f in tmp.iterdir())
    tmp.rename(final)
    return registry.add_adapter({
        "name": name, "version": version, "task": plan.get("task", {}).get("type"),
        "description": plan.get("task", {}).get("description", ""),
        "base_model": plan.get("base_model", {}).get("name", ""), "base_source": base_source,
        "base_params_b": plan.get("base_model", {}).get("params_b"),
        "path": str(final.relative_to(home.root)), "weights_sha256": sha256_file(final / WEIGHTS),
        "size_bytes": size, "plan_id": plan_id, "dataset_sha256": plan.get("data", {}).get("sha256"),
        "job_id": job_id, "metrics": metrics, "library_versions": library_versions or {},
    })


def adapter_dir(registry: Registry, record: dict) -> Path:
    return registry.home.root / record["path"]


def export_zip(registry: Registry, record: dict, dest: Path | None = None) -> Path:
    """The adapter folder as a zip, its files at the top level. Returns the zip's path."""
    folder = adapter_dir(registry, record)
    dest = dest or registry.home.root / "exports" / f"{record['name']}-v{record['version']}.zip"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".zip.partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.iterdir()):
            if f.is_file():
                z.write(f, arcname=f.name)
    tmp.replace(dest)
    return dest
