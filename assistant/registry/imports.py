"""Importing an adapter from elsewhere: validated as PEFT would load it, before anything is stored.

Nothing from the file is trusted. In order, each step refusing the whole import with one line:

1. the entries: at most a handful, no path leaving the folder, no links, no pickles (loading one runs code);
2. `adapter_config.json` (at most 1 MiB), each field's type and range checked, then parsed by PEFT's own
   `LoraConfig`; its `target_modules` must name layers the base model has (built on the meta device);
3. size caps derived from the base's shape and the rank — an honest adapter of rank r for this base cannot
   be bigger — checked against the sizes the zip declares and again while reading, since headers can lie;
4. the weights: safetensors only, every tensor a LoRA factor of a targeted Linear layer of the base (or a
   declared `modules_to_save` copy of the base's own shape), A and B of the same rank as the config says,
   every value finite.

Only then are the files moved into `adapters/<name>/<version>/` and registered, the version allocated in
the same transaction as the row (`Registry.register_version`). On any refusal the staging folder is removed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import re
import shutil
import stat
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..config import environment
from ..data.load import sha256_file
from .db import Registry
from .errors import RegistryError
from .store import WEIGHTS, model_card

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz"}
MiB = 1024**2
FILE_CAPS = {"adapter_config.json": 1 * MiB, "README.md": 1 * MiB, "plan.json": 1 * MiB,
             "training_log.jsonl": 16 * MiB, "tokenizer.json": 32 * MiB, "tokenizer_config.json": 4 * MiB,
             "special_tokens_map.json": 1 * MiB, "chat_template.jinja": 1 * MiB}
"""Every file kept from an import, with the most bytes it may hold; the weights' cap is derived."""
KEPT_FILES = {*FILE_CAPS, WEIGHTS}
MAX_ENTRIES = 64
MAX_RANK = 4096
LORA_KEY = re.compile(r"(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$")


def max_import_bytes() -> int:
    """An absolute ceiling on one import, whatever the base (TAILOR_MAX_IMPORT_BYTES, default 4 GiB)."""
    return environment().max_import_bytes


# -- reading a zip or a folder through one interface -------------------------------------------------------
@dataclass
class Entry:
    name: str
    """The path inside the archive or folder, with '/' separators."""
    size: int
    """The size it declares (a zip's header can lie; reading enforces the cap anyway)."""
    is_dir: bool = False
    is_link: bool = False


class _Source:
    """A zip or a folder: its entries, and a capped reader for each."""

    def __init__(self, path: Path):
        self.path, self.label = path, path.name
        self._zip: zipfile.ZipFile | None = None

    def __enter__(self) -> _Source:
        if self.path.is_dir():
            return self
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise RegistryError(f"{self.label}: not a zip file or a folder") from None
        return self

    def __exit__(self, *exc) -> None:
        if self._zip is not None:
            self._zip.close()

    def entries(self) -> list[Entry]:
        if self._zip is not None:
            return [Entry(i.filename.replace("\\", "/"), i.file_size, i.is_dir(), stat.S_ISLNK(i.external_attr >> 16))
                    for i in self._zip.infolist()]
        out = []
        for p in sorted(self.path.rglob("*")):
            rel = p.relative_to(self.path).as_posix()
            out.append(Entry(rel, 0 if p.is_symlink() or p.is_dir() else p.stat().st_size, p.is_dir() and not p.is_symlink(),
                             p.is_symlink()))
            if len(out) > MAX_ENTRIES:
                break
        return out

    @contextlib.contextmanager
    def open(self, name: str):
        with (self._zip.open(name) if self._zip is not None else open(self.path / name, "rb")) as f:
            yield f

    def read(self, name: str, cap: int) -> Iterator[bytes]:
        """The entry's bytes in chunks; refuses as soon as more than `cap` bytes arrive."""
        got = 0
        try:
            with self.open(name) as f:
                while chunk := f.read(1 << 20):
                    got += len(chunk)
                    if got > cap:
                        raise RegistryError(f"{self.label}: {name} unpacks to more than the {cap:,}-byte limit "
                                            "for it, more than its header declares (a zip bomb); refusing it")
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
            raise RegistryError(f"{self.label}: {name} cannot be unpacked ({type(e).__name__}: {e}); the zip is "
                                "damaged or uses an unsupported compression or encryption") from None

    def read_all(self, name: str, cap: int) -> bytes:
        return b"".join(self.read(name, cap))


# -- the pipeline ------------------------------------------------------------------------------------------
def import_adapter(registry: Registry, source: str | Path, *, name: str | None = None, base_source: str | None = None,
                   description: str = "", home_models: Path | None = None) -> dict:
    """Validate and register a PEFT adapter from a zip or a folder. Raises RegistryError with the reason."""
    source = Path(source).expanduser()
    if not source.exists():
        raise RegistryError(f"{source}: no such file or folder")
    if not source.is_dir() and not zipfile.is_zipfile(source):
        raise RegistryError(f"{source.name}: not a zip file or a folder")
    staging = registry.home.root / ".imports" / uuid.uuid4().hex
    try:
        with _Source(source) as src:
            prefix, kept = _screen_entries(src)
            _check_declared_sizes(src, prefix, ["adapter_config.json"], FILE_CAPS)
            cfg = _parse_config(src.read_all(prefix + "adapter_config.json", FILE_CAPS["adapter_config.json"]), src.label)
            base = _check_base(cfg, base_source, src.label, home_models or registry.home.models)
            _check_targets(cfg, base, src.label)
            caps = {**FILE_CAPS, WEIGHTS: weights_cap(cfg, base["shapes"], base["params"])}
            _check_declared_sizes(src, prefix, kept, caps)
            if WEIGHTS not in kept:
                raise RegistryError(f"{src.label}: no {WEIGHTS}; the weights must be safetensors")
            staging.mkdir(parents=True)
            for fname in kept:
                with open(staging / fname, "wb") as out:
                    for chunk in src.read(prefix + fname, caps[fname]):
                        out.write(chunk)
        check_weights(staging / WEIGHTS, cfg, base, src.label)
        return _register(registry, staging, source, cfg, base, name, description)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise RegistryError(f"{source.name}: the disk is full; nothing was imported. Free some space and try "
                                "again") from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            staging.parent.rmdir()


def _screen_entries(src: _Source) -> tuple[str, list[str]]:
    """(the folder prefix holding adapter_config.json, the kept file names) after refusing hostile entries."""
    entries = src.entries()
    if len(entries) > MAX_ENTRIES:
        raise RegistryError(f"{src.label}: more than {MAX_ENTRIES} entries; an adapter has a handful")
    for e in entries:
        parts = PurePosixPath(e.name).parts
        if e.name.startswith("/") or ".." in parts or (parts and ":" in parts[0]) or "\0" in e.name:
            raise RegistryError(f"{src.label}: entry {e.name!r} would be written outside the adapter folder; "
                                "refusing the whole file")
        if e.is_link:
            raise RegistryError(f"{src.label}: entry {e.name!r} is a symbolic link; refusing the whole file")
        if PurePosixPath(e.name).suffix.lower() in PICKLE_SUFFIXES:
            raise RegistryError(f"{src.label}: {e.name} is a pickle file; loading it could run arbitrary code, so "
                                "Tailor accepts adapter weights only as safetensors. Convert it with `safetensors` first")
    configs = [e.name for e in entries if not e.is_dir and PurePosixPath(e.name).name == "adapter_config.json"]
    if not configs:
        raise RegistryError(f"{src.label}: no adapter_config.json; this is not a PEFT adapter")
    if len(configs) > 1:
        raise RegistryError(f"{src.label}: {len(configs)} adapters inside; import them one at a time")
    prefix = configs[0][: -len("adapter_config.json")]
    kept = [e.name[len(prefix):] for e in entries if not e.is_dir and e.name.startswith(prefix)
            and e.name[len(prefix):] in KEPT_FILES]
    return prefix, kept


def _check_declared_sizes(src: _Source, prefix: str, kept: list[str], caps: dict[str, int]) -> None:
    """Refuse what the entries declare before reading any: each kept file over its cap; with the weights' cap
    known, everything together over what an adapter of this rank on this base can hold."""
    declared = {e.name: e.size for e in src.entries()}
    if WEIGHTS in caps:
        total, limit = sum(declared.values()), min(max_import_bytes(), sum(caps[f] for f in kept) + MiB)
        if total > limit:
            raise RegistryError(f"{src.label}: unpacks to {total:,} bytes, over the {limit:,}-byte limit for an "
                                "adapter of this rank on this base model")
    for fname in kept:
        if declared[prefix + fname] > caps[fname]:
            raise RegistryError(f"{src.label}: {fname} is {declared[prefix + fname]:,} bytes, over the "
                                f"{caps[fname]:,}-byte limit for it")


# -- the config ----------------------------------------------------------------------------------------------
def _parse_config(raw: bytes, label: str) -> dict:
    try:
        cfg = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RegistryError(f"{label}: adapter_config.json does not parse: {e}") from None
    if not isinstance(cfg, dict):
        raise RegistryError(f"{label}: adapter_config.json is not an object")
    problems = config_problems(cfg)
    if problems:
        raise RegistryError(f"{label}: adapter_config.json: " + "; ".join(problems))
    try:
        from peft import LoraConfig

        LoraConfig.from_peft_type(**{k: v for k, v in cfg.items() if k in LoraConfig.__dataclass_fields__})
    except Exception as e:  # noqa: BLE001 - whatever PEFT refuses, the import refuses, with its words
        raise RegistryError(f"{label}: adapter_config.json is refused by PEFT: {type(e).__name__}: {e}") from None
    return cfg


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def config_problems(cfg: dict) -> list[str]:
    """Every field of a LoRA adapter_config.json with the wrong type or range, each named (PEFT checks none)."""
    p = []
    if cfg.get("peft_type", "LORA") != "LORA":
        return [f"a {cfg.get('peft_type')} adapter; Tailor serves LoRA adapters"]
    r = cfg.get("r", 8)
    if not _is_int(r) or not 1 <= r <= MAX_RANK:
        p.append(f"`r` must be a whole number from 1 to {MAX_RANK}, not {json.dumps(r)}")
    alpha = cfg.get("lora_alpha", 8)
    if not _is_num(alpha) or alpha <= 0:
        p.append(f"`lora_alpha` must be a positive number, not {json.dumps(alpha)}")
    dropout = cfg.get("lora_dropout", 0.0)
    if not _is_num(dropout) or not 0 <= dropout < 1:
        p.append(f"`lora_dropout` must be a number from 0 to below 1, not {json.dumps(dropout)}")
    t = cfg.get("target_modules")
    if not (isinstance(t, str) and t) and not (isinstance(t, list) and t and all(isinstance(x, str) and x for x in t)):
        p.append(f"`target_modules` must be a module name pattern or a non-empty list of names, not {json.dumps(t)}")
    elif isinstance(t, str) and t != "all-linear":
        try:
            re.compile(t)
        except re.error as e:
            p.append(f"`target_modules` is not a valid pattern ({e})")
    for key in ("rank_pattern", "alpha_pattern"):
        pat = cfg.get(key) or {}
        ok = _is_int if key == "rank_pattern" else _is_num
        if not isinstance(pat, dict) or not all(isinstance(k, str) and ok(v) and 0 < v <= MAX_RANK
                                                for k, v in pat.items()):
            p.append(f"`{key}` must map module names to positive numbers up to {MAX_RANK}")
        else:
            for k in pat:
                try:
                    re.compile(k)
                except re.error as e:
                    p.append(f"`{key}` key {k!r} is not a valid pattern ({e})")
    mts = cfg.get("modules_to_save")
    if mts is not None and not (isinstance(mts, list) and all(isinstance(x, str) and x for x in mts)):
        p.append("`modules_to_save` must be a list of module names")
    if cfg.get("bias", "none") not in ("none", "all", "lora_only"):
        p.append(f"`bias` must be none, all or lora_only, not {json.dumps(cfg.get('bias'))}")
    for key in ("fan_in_fan_out", "use_rslora", "use_dora", "inference_mode"):
        if not isinstance(cfg.get(key, False), bool):
            p.append(f"`{key}` must be true or false")
    base = cfg.get("base_model_name_or_path")
    if base is not None and not isinstance(base, str):
        p.append("`base_model_name_or_path` must be a string")
    return p


def _matches(name: str, targets) -> bool:
    if targets == "all-linear":
        return not name.endswith("lm_head")
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def _check_targets(cfg: dict, base: dict, label: str) -> None:
    """Every target the config names is a Linear layer of the base (PEFT would silently adapt fewer)."""
    targets, linear = cfg["target_modules"], base["shapes"]
    if isinstance(targets, str):
        if not any(_matches(n, targets) for n in linear):
            raise RegistryError(f"{label}: target_modules {targets!r} matches no layer of {base['name']}")
        return
    missing = [t for t in targets if not any(_matches(n, [t]) for n in linear)]
    if missing:
        raise RegistryError(f"{label}: target_modules names {', '.join(map(repr, missing))}, which {base['name']} "
                            "does not have: it was made for a different base model")


def _max_rank(cfg: dict) -> int:
    return max([cfg.get("r", 8), *(cfg.get("rank_pattern") or {}).values()])


def weights_cap(cfg: dict, shapes: dict[str, tuple[int, int]], params: dict[str, tuple[int, ...]]) -> int:
    """The most bytes an honest adapter of this rank for this base holds: both LoRA factors of every Linear
    layer in float32, the `modules_to_save` copies, and room for the safetensors header."""
    r = _max_rank(cfg)
    lora = sum(r * (fan_in + fan_out) for fan_in, fan_out in shapes.values())
    saved = sum(math.prod(shape) for pname, shape in params.items()
                if any(pname.startswith(m + ".") or f".{m}." in "." + pname for m in cfg.get("modules_to_save") or []))
    return 4 * (lora + saved) + MiB


# -- the base model ---------------------------------------------------------------------------------------
def _check_base(cfg: dict, base_source: str | None, label: str, home_models: Path) -> dict:
    """The base the adapter is registered under, with its Linear shapes and parameter shapes."""
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
    if found is None:
        raise RegistryError(f"{label}: the base model {target_name!r} is not on this machine, so its layer shapes "
                            "cannot be checked; put it in models/ or pass --base with a local folder")
    shapes, params = base_shapes(found)
    return {"name": target_name, "source": str(found.resolve()), "hub_id": entry_t.hub_id if entry_t else target,
            "shapes": shapes, "params": params}


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


def base_shapes(folder: Path) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, ...]]]:
    """({Linear module: (in, out)}, {parameter: shape}) of the base, built on the meta device (no weights)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(folder))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    linear = {n: (m.in_features, m.out_features) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    return linear, {n: tuple(p.shape) for n, p in model.named_parameters(remove_duplicate=False)}


# -- the weights ----------------------------------------------------------------------------------------------
def check_weights(weights: Path, cfg: dict, base: dict, label: str) -> None:
    """Every tensor a LoRA factor (or a declared saved module) that fits the base and the config, all finite."""
    import torch
    from safetensors import safe_open

    try:
        f = safe_open(str(weights), framework="pt")
    except Exception as e:  # noqa: BLE001 - any parse failure means the file is not valid safetensors
        raise RegistryError(f"{label}: {WEIGHTS} is not a valid safetensors file ({e})") from None
    shapes, bname = base["shapes"], base["name"]
    ranks: dict[str, dict[str, int]] = {}
    with f:
        keys = list(f.keys())
        if not any(LORA_KEY.match(k) for k in keys):
            raise RegistryError(f"{label}: {WEIGHTS} holds no LoRA tensors")
        for key in keys:
            shape = tuple(f.get_slice(key).get_shape())
            m = LORA_KEY.match(key)
            if m:
                module, which = m.group(1), m.group(2)
                _check_factor(key, module, which, shape, cfg, shapes, label, bname)
                ranks.setdefault(module, {})[which] = shape[0] if which == "A" else shape[1]
            else:
                _check_saved(key, shape, cfg, base["params"], label, bname)
            try:
                tensor = f.get_tensor(key)
            except Exception as e:  # noqa: BLE001 - a header that lies about offsets or dtypes
                raise RegistryError(f"{label}: tensor {key} cannot be read ({e})") from None
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise RegistryError(f"{label}: tensor {key} holds NaN or infinite values; the adapter is broken")
    for module, got in ranks.items():
        if set(got) != {"A", "B"}:
            raise RegistryError(f"{label}: layer {module} has lora_{'AB'.replace(next(iter(got)), '')} missing")
        expected = _rank_for(module, cfg)
        if got["A"] != got["B"] or got["A"] != expected:
            raise RegistryError(f"{label}: layer {module} has lora_A of rank {got['A']} and lora_B of rank {got['B']}, "
                                f"but its config says rank {expected}")


def _check_factor(key, module, which, shape, cfg, shapes, label, bname) -> None:
    if module not in shapes:
        raise RegistryError(f"{label}: adapts layer {module!r}, which {bname} does not have: it was trained on a "
                            "different base model")
    if len(shape) != 2:
        raise RegistryError(f"{label}: tensor {key} has {len(shape)} dimensions; a LoRA factor has 2")
    fan_in, fan_out = shapes[module]
    if not (shape[1] == fan_in if which == "A" else shape[0] == fan_out):
        raise RegistryError(f"{label}: tensor {key} has shape {list(shape)}, but {bname}'s {module} is "
                            f"{fan_in}→{fan_out}: it was trained on a different base model")
    if not _matches(module, cfg["target_modules"]):
        raise RegistryError(f"{label}: tensor {key} adapts {module}, which the config's target_modules do not name")


def _check_saved(key, shape, cfg, params, label, bname) -> None:
    name = re.sub(r"^base_model\.model\.", "", key)
    name = re.sub(r"\.modules_to_save\.[^.]+\.", ".", name)
    saved = cfg.get("modules_to_save") or []
    if not any(name.startswith(m + ".") or f".{m}." in "." + name for m in saved):
        raise RegistryError(f"{label}: tensor {key} is neither a LoRA factor nor a module the config saves")
    if params.get(name) != shape:
        raise RegistryError(f"{label}: tensor {key} has shape {list(shape)}, but {bname}'s {name} is "
                            f"{list(params.get(name) or [])}")


def _rank_for(module: str, cfg: dict) -> int:
    for pattern, r in (cfg.get("rank_pattern") or {}).items():  # matched the way PEFT matches it
        if re.fullmatch(rf"(.*\.)?(?:{pattern})", module):
            return r
    return cfg.get("r", 8)


# -- registering ------------------------------------------------------------------------------------------
def _register(registry: Registry, staging: Path, source: Path, cfg: dict, base: dict, name: str | None,
              description: str) -> dict:
    sha = sha256_file(staging / WEIGHTS)
    if (dup := registry.adapter_by_sha(sha)) is not None:
        raise RegistryError(f"{source.name}: this adapter is already registered as {dup['name']}:{dup['version']} "
                            "(same weights sha256)")
    name = clean_name(name or _name_from(source))
    plan = _read_json(staging / "plan.json")
    task = plan.get("task") if isinstance(plan.get("task"), dict) else {}
    record = {
        "name": name, "task": task.get("type") if isinstance(task.get("type"), str) else None,
        "description": description or str(task.get("description") or "") or f"imported from {source.name}",
        "base_model": base["name"], "base_source": base["source"], "weights_sha256": sha,
        "metrics": {}, "library_versions": {}, "origin": "imported",
    }

    def place(version: int) -> Path:
        if not (staging / "README.md").exists():
            (staging / "README.md").write_text(model_card(name, version, plan or {"task": {}}, base["hub_id"], {}),
                                               encoding="utf-8")
        final = registry.home.adapters / name / str(version)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(final)
        return final

    return registry.register_version(record, place)


def _name_from(source: Path) -> str:
    stem = source.name if source.is_dir() else source.stem
    return re.sub(r"-v\d+$", "", stem) or "imported"


def clean_name(name: str) -> str:
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
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return {}
