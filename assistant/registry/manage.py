"""Registry operations on adapters and their folders: import (validated), delete, rename, check/repair, merge.

Import never trusts what it is given: the files are unpacked into a private staging folder under the data
home, checked there — zip entries cannot leave it, sizes are capped while reading (a zip's headers can lie),
pickle files are refused (loading one can run code), `adapter_config.json` must parse, the weights must be
safetensors whose LoRA tensors fit the base model's layers, and an adapter already registered is found by
its sha256 — and only then moved into `adapters/<name>/<version>/` and registered. On any refusal nothing is
left behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import uuid
import zipfile
from pathlib import Path

from ..data.load import sha256_file
from .db import Registry
from .store import WEIGHTS, adapter_dir, model_card

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz"}
KEPT_FILES = {"adapter_config.json", WEIGHTS, "README.md", "plan.json", "training_log.jsonl", "tokenizer.json",
              "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"}
MAX_ENTRIES = 200


class RegistryError(Exception):
    """A registry operation was refused; the message says why and what to do."""


def max_import_bytes() -> int:
    return int(os.environ.get("TAILOR_MAX_IMPORT_BYTES", str(4 * 1024**3)))


# -- import ----------------------------------------------------------------------------------------------
def import_adapter(registry: Registry, source: str | Path, *, name: str | None = None, base_source: str | None = None,
                   description: str = "", home_models: Path | None = None) -> dict:
    """Validate and register a PEFT adapter from a zip or a folder. Raises RegistryError with the reason."""
    source = Path(source).expanduser()
    if not source.exists():
        raise RegistryError(f"{source}: no such file or folder")
    staging = registry.home.root / ".imports" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    try:
        if source.is_dir():
            _copy_folder(source, staging)
        elif zipfile.is_zipfile(source):
            _safe_extract(source, staging)
        else:
            raise RegistryError(f"{source.name}: not a zip file or a folder")
        folder = _adapter_root(staging, source.name)
        cfg = validate_adapter_folder(folder, source.name)
        sha = sha256_file(folder / WEIGHTS)
        if (dup := registry.adapter_by_sha(sha)) is not None:
            raise RegistryError(f"{source.name}: this adapter is already registered as {dup['name']}:{dup['version']} "
                                "(same weights sha256)")
        base = _check_base(cfg, folder, base_source, source.name, home_models or registry.home.models)
        name = _clean_name(name or _name_from(source))
        version = registry.next_version(name)
        for f in list(folder.iterdir()):
            if f.name not in KEPT_FILES:
                _remove(f)
        plan = _read_json(folder / "plan.json") if (folder / "plan.json").exists() else {}
        if not (folder / "README.md").exists():
            (folder / "README.md").write_text(model_card(name, version, plan or {"task": {}}, base["hub_id"], {}),
                                              encoding="utf-8")
        final = registry.home.adapters / name / str(version)
        final.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(final)
        return registry.add_adapter({
            "name": name, "version": version, "task": (plan.get("task") or {}).get("type"),
            "description": description or (plan.get("task") or {}).get("description", "") or f"imported from {source.name}",
            "base_model": base["name"], "base_source": base["source"], "path": str(final.relative_to(registry.home.root)),
            "weights_sha256": sha, "size_bytes": sum(f.stat().st_size for f in final.iterdir()),
            "metrics": {}, "library_versions": {}, "origin": "imported",
        })
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.parent.rmdir()
        except OSError:
            pass


def _safe_extract(zip_path: Path, target: Path) -> None:
    """Unpack a zip into `target`, refusing escapes, links, too many entries and too many bytes."""
    limit = max_import_bytes()
    with zipfile.ZipFile(zip_path) as z:
        infos = z.infolist()
        if len(infos) > MAX_ENTRIES:
            raise RegistryError(f"{zip_path.name}: {len(infos)} entries; an adapter has a handful (limit {MAX_ENTRIES})")
        declared = sum(i.file_size for i in infos)
        if declared > limit:
            raise RegistryError(f"{zip_path.name}: unpacks to {declared:,} bytes, over the {limit:,}-byte limit")
        root = target.resolve()
        for info in infos:
            parts = Path(info.filename.replace("\\", "/")).parts
            dest = (target / info.filename).resolve()
            if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]) or \
                    not str(dest).startswith(str(root) + os.sep):
                raise RegistryError(f"{zip_path.name}: entry {info.filename!r} would be written outside the adapter "
                                    "folder; refusing the whole file")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise RegistryError(f"{zip_path.name}: entry {info.filename!r} is a symbolic link; refusing the whole file")
            if Path(info.filename).suffix.lower() in PICKLE_SUFFIXES:
                raise RegistryError(_pickle_reason(zip_path.name, info.filename))
        written = 0
        for info in infos:
            dest = target / info.filename
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(dest, "wb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > limit:
                        raise RegistryError(f"{zip_path.name}: unpacks to more than the {limit:,}-byte limit "
                                            "(its headers understate the size: a zip bomb); refusing it")
                    out.write(chunk)


def _copy_folder(src: Path, target: Path) -> None:
    limit, total = max_import_bytes(), 0
    files = [p for p in src.rglob("*")]
    if len(files) > MAX_ENTRIES:
        raise RegistryError(f"{src}: {len(files)} files; an adapter has a handful (limit {MAX_ENTRIES})")
    for p in files:
        if p.is_symlink():
            raise RegistryError(f"{src}: {p.relative_to(src)} is a symbolic link; refusing the folder")
        if p.suffix.lower() in PICKLE_SUFFIXES:
            raise RegistryError(_pickle_reason(src.name, str(p.relative_to(src))))
        if p.is_file():
            total += p.stat().st_size
            if total > limit:
                raise RegistryError(f"{src}: more than the {limit:,}-byte limit")
            dest = target / p.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)


def _pickle_reason(where: str, entry: str) -> str:
    return (f"{where}: {entry} is a pickle file; loading it could run arbitrary code, so Tailor accepts adapter "
            "weights only as safetensors. Convert it with `safetensors` first")


def _adapter_root(staging: Path, label: str) -> Path:
    """The folder holding adapter_config.json: the top level, or the one folder a zip wrapped it in."""
    if (staging / "adapter_config.json").exists():
        return staging
    found = [p.parent for p in staging.rglob("adapter_config.json")]
    if len(found) == 1:
        return found[0]
    if not found:
        raise RegistryError(f"{label}: no adapter_config.json; this is not a PEFT adapter")
    raise RegistryError(f"{label}: {len(found)} adapters inside; import them one at a time")


def validate_adapter_folder(folder: Path, label: str) -> dict:
    """The parsed adapter_config.json after checking the folder is a LoRA adapter with safetensors weights."""
    try:
        cfg = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RegistryError(f"{label}: adapter_config.json does not parse: {e}") from None
    if not isinstance(cfg, dict):
        raise RegistryError(f"{label}: adapter_config.json is not an object")
    if cfg.get("peft_type", "LORA") != "LORA":
        raise RegistryError(f"{label}: a {cfg.get('peft_type')} adapter; Tailor serves LoRA adapters")
    if not (folder / WEIGHTS).exists():
        raise RegistryError(f"{label}: no {WEIGHTS}; the weights must be safetensors")
    try:
        from safetensors import safe_open

        with safe_open(str(folder / WEIGHTS), framework="pt") as f:
            keys = list(f.keys())
    except Exception as e:  # noqa: BLE001 - any parse failure means the file is not valid safetensors
        raise RegistryError(f"{label}: {WEIGHTS} is not a valid safetensors file ({e})") from None
    if not any(".lora_A." in k for k in keys):
        raise RegistryError(f"{label}: {WEIGHTS} holds no LoRA tensors")
    return cfg


def _check_base(cfg: dict, folder: Path, base_source: str | None, label: str, home_models: Path) -> dict:
    """The base model the adapter is registered under, after checking names and tensor shapes match."""
    from ..models import catalog

    theirs = str(cfg.get("base_model_name_or_path") or "")
    target = base_source or theirs
    if not target:
        raise RegistryError(f"{label}: adapter_config.json names no base model; say which with --base")
    entry_t, entry_a = catalog.find(target), catalog.find(theirs) if theirs else None
    target_name = entry_t.name if entry_t else Path(target).name
    their_name = entry_a.name if entry_a else Path(theirs).name
    if theirs and base_source and _norm(their_name) != _norm(target_name) and not _same_local(theirs, target):
        raise RegistryError(f"{label}: trained on {theirs!r}, not on {target_name!r}; import it with the base "
                            "model it was trained on (--base)")
    found = _base_folder(target, home_models)
    shapes = _base_linear_shapes(found) if found else None
    if shapes is None:
        raise RegistryError(f"{label}: the base model {target_name!r} is not on this machine, so its layer shapes "
                            "cannot be checked; put it in models/ or pass --base with a local folder")
    _check_shapes(folder / WEIGHTS, cfg, shapes, label, target_name)
    return {"name": target_name, "source": str(found.resolve()), "hub_id": entry_t.hub_id if entry_t else target}


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", s.lower())


def _same_local(a: str, b: str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return False


def _base_folder(source: str, home_models: Path) -> Path | None:
    """The local folder of a base model (a path, or `models/<name>` in the data home), if it is here."""
    from ..models.catalog import find

    folder = Path(source).expanduser()
    if (folder / "config.json").exists():
        return folder
    entry = find(source)
    if entry is not None and entry.embedded:
        from ..models.resolve import ensure_embedded

        return ensure_embedded(home_models)
    candidates = [home_models / entry.name] if entry else [home_models / source.replace("/", "--")]
    return next((c for c in candidates if (c / "config.json").exists()), None)


def _base_linear_shapes(folder: Path) -> dict[str, tuple[int, int]]:
    """module name → (in_features, out_features) of every Linear layer of the base, built on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(folder))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return {n: (m.in_features, m.out_features) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


def _check_shapes(weights: Path, cfg: dict, shapes: dict[str, tuple[int, int]], label: str, base_name: str) -> None:
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        for key in f.keys():
            m = re.match(r"(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$", key)
            if not m:
                continue
            module, which = m.group(1), m.group(2)
            shape = tuple(f.get_slice(key).get_shape())
            if module not in shapes:
                raise RegistryError(f"{label}: adapts layer {module!r}, which {base_name} does not have: it was "
                                    "trained on a different base model")
            fan_in, fan_out = shapes[module]
            ok = shape[1] == fan_in if which == "A" else shape[0] == fan_out
            if not ok:
                raise RegistryError(f"{label}: tensor {key} has shape {list(shape)}, but {base_name}'s {module} is "
                                    f"{fan_in}→{fan_out}: it was trained on a different base model")


def _name_from(source: Path) -> str:
    stem = source.name if source.is_dir() else source.stem
    return re.sub(r"-v\d+$", "", stem) or "imported"


def _clean_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:80]
    if not clean:
        raise RegistryError(f"{name!r} is not a usable adapter name: use letters, digits, '-', '_' or '.'")
    return clean


def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}


def _remove(p: Path) -> None:
    shutil.rmtree(p) if p.is_dir() else p.unlink()


# -- delete and rename -------------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def busy_reason(registry: Registry, record: dict) -> str | None:
    """Why an adapter cannot be deleted or renamed now (served by a live engine, or its name being trained)."""
    for lease in registry.leases(record["id"]):
        if _pid_alive(lease["pid"]):
            return f"{record['name']}:{record['version']} is being served ({lease['holder']}); unload it or stop the app first"
        registry.release(record["id"], lease["holder"])  # stale: its process is gone
    for job in registry.jobs(status="running") + registry.jobs(status="queued"):
        plan = json.loads(registry.plan(job["plan_id"])["json"])
        if plan.get("name") == record["name"]:
            return f"job {job['id']} is training a new version of {record['name']}; wait for it or cancel it"
    return None


def delete_adapter(registry: Registry, record: dict) -> None:
    """Remove one adapter version: its row, tags, aliases and folder."""
    if (why := busy_reason(registry, record)) is not None:
        raise RegistryError(why)
    folder = adapter_dir(registry, record)
    trash = folder.with_name(f".{folder.name}.deleting")
    if folder.exists():
        folder.rename(trash)
    registry.delete_adapter(record["id"])
    shutil.rmtree(trash, ignore_errors=True)
    try:
        folder.parent.rmdir()  # the name's folder, once its last version is gone
    except OSError:
        pass


def rename_adapter(registry: Registry, old: str, new: str) -> list[dict]:
    """Give every version of an adapter a new name (folders move with it; aliases keep pointing at them)."""
    new = _clean_name(new)
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
    registry.rename_adapter(old, new, {r["id"]: str((dst / str(r["version"])).relative_to(registry.home.root))
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
        label = f"{rec['name']}:{rec['version']}"
        if not (folder / WEIGHTS).exists():
            state, msg = "missing", f"{label}: folder {rec['path']} is missing or has no weights"
        elif sha256_file(folder / WEIGHTS) != rec["weights_sha256"]:
            state, msg = "corrupt", f"{label}: weights changed on disk (sha256 differs from the registry)"
        else:
            state, msg = "ready", f"{label}: files are back; was marked {rec['status']}"
        if state != rec["status"]:
            problems.append(msg + (f" → marked {state}" if repair else ""))
            if repair:
                registry.update_adapter(rec["id"], status=state)
    known = {r["path"] for r in registry.search(limit=10**9)}
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
                    msg += f" → registered as {rec['name']}:{rec['version']}"
                except RegistryError as e:
                    msg += f" → not registered: {e}"
            problems.append(msg)
    return problems


def _register_in_place(registry: Registry, folder: Path) -> dict:
    cfg = validate_adapter_folder(folder, str(folder))
    plan = _read_json(folder / "plan.json")
    name, version = folder.parent.name, int(folder.name) if folder.name.isdigit() else None
    if version is None or registry.adapter(name, version) is not None:
        raise RegistryError("its folder name is not a free version number")
    base = (plan.get("base_model") or {})
    return registry.add_adapter({
        "name": name, "version": version, "task": (plan.get("task") or {}).get("type"),
        "description": (plan.get("task") or {}).get("description", ""),
        "base_model": base.get("name") or Path(str(cfg.get("base_model_name_or_path", ""))).name,
        "base_source": base.get("source") or str(cfg.get("base_model_name_or_path", "")),
        "path": str(folder.relative_to(registry.home.root)), "weights_sha256": sha256_file(folder / WEIGHTS),
        "size_bytes": sum(f.stat().st_size for f in folder.iterdir() if f.is_file()),
        "dataset_sha256": None, "metrics": {}, "library_versions": {}, "origin": "imported",
    })


# -- merged download ----------------------------------------------------------------------------------------
def export_merged(registry: Registry, record: dict, dest: Path | None = None, log=print) -> Path:
    """Base + adapter merged into one full model (safetensors + tokenizer), zipped. Returns the zip's path."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..models.resolve import resolve_source

    folder = adapter_dir(registry, record)
    base_path = resolve_source(record["base_source"], registry.home.models, log)
    dest = dest or registry.home.root / "exports" / f"{record['name']}-v{record['version']}-merged.zip"
    work = dest.with_name(dest.stem + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    log(f"merging {record['name']}:{record['version']} into {record['base_model']}...")
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(folder)).merge_and_unload()
    merged.save_pretrained(work, safe_serialization=True)
    AutoTokenizer.from_pretrained(base_path).save_pretrained(work)
    for extra in ("README.md", "plan.json"):
        if (folder / extra).exists():
            shutil.copy2(folder / extra, work / extra)
    tmp = dest.with_suffix(".zip.partial")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for f in sorted(work.iterdir()):
            z.write(f, arcname=f"{record['name']}-v{record['version']}-merged/{f.name}")
    tmp.replace(dest)
    shutil.rmtree(work, ignore_errors=True)
    return dest
