"""Importing an adapter from elsewhere: validated as PEFT would load it, before anything is stored.

Nothing from the file is trusted. In order, each step refusing the whole import with one line:

1. the entries: at most a handful, no path leaving the folder, no links, no pickles (loading one runs code);
2. `adapter_config.json` (at most 1 MiB), each field's type and range checked, then parsed by PEFT's own
   `LoraConfig`; its `target_modules` must name layers the base model has (built on the meta device);
3. size caps derived from the base's shape and the rank — an honest adapter of rank r for this base cannot
   be bigger — checked against the sizes the zip declares and again while reading, since headers can lie;
4. the weights: safetensors only, every tensor a LoRA factor of a targeted Linear layer of the base (or a
   declared `modules_to_save` copy of the base's own shape), A and B of the same rank as the config says,
   every value finite. (The checks of steps 2 to 4 are in adapter_checks.py.)

Only then are the files moved into `adapters/<name>/<version>/` and registered, the version allocated in
the same transaction as the row (`Registry.register_version`). On any refusal the staging folder is removed.
"""

from __future__ import annotations

import contextlib
import errno
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
from .adapter_checks import MiB, check_base, check_targets, check_weights, parse_config, weights_cap
from .db import Registry
from .errors import RegistryError
from .records import Adapter, new_adapter
from .store import WEIGHTS, model_card, read_plan

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz"}
FILE_CAPS = {"adapter_config.json": 1 * MiB, "README.md": 1 * MiB, "plan.json": 1 * MiB,
             "training_log.jsonl": 16 * MiB, "tokenizer.json": 32 * MiB, "tokenizer_config.json": 4 * MiB,
             "special_tokens_map.json": 1 * MiB, "chat_template.jinja": 1 * MiB}
"""Every file kept from an import, with the most bytes it may hold; the weights' cap is derived."""
KEPT_FILES = {*FILE_CAPS, WEIGHTS}
MAX_ENTRIES = 64


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
            link = p.is_symlink()
            out.append(Entry(rel, 0 if link or p.is_dir() else p.stat().st_size, p.is_dir() and not link, link))
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
                   description: str = "", home_models: Path | None = None) -> Adapter:
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
            raw = src.read_all(prefix + "adapter_config.json", FILE_CAPS["adapter_config.json"])
            cfg = parse_config(raw, src.label)
            base = check_base(cfg, base_source, src.label, home_models or registry.home.models)
            check_targets(cfg, base, src.label)
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
                                "Tailor accepts adapter weights only as safetensors. Convert it with `safetensors` "
                                "first")
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
        total, limit = sum(declared.values()), min(environment().max_import_bytes, sum(caps[f] for f in kept) + MiB)
        if total > limit:
            raise RegistryError(f"{src.label}: unpacks to {total:,} bytes, over the {limit:,}-byte limit for an "
                                "adapter of this rank on this base model")
    for fname in kept:
        if declared[prefix + fname] > caps[fname]:
            raise RegistryError(f"{src.label}: {fname} is {declared[prefix + fname]:,} bytes, over the "
                                f"{caps[fname]:,}-byte limit for it")


# -- registering ------------------------------------------------------------------------------------------
def _register(registry: Registry, staging: Path, source: Path, cfg: dict, base: dict, name: str | None,
              description: str) -> Adapter:
    sha = sha256_file(staging / WEIGHTS)
    if (dup := registry.adapter_by_sha(sha)) is not None:
        raise RegistryError(f"{source.name}: this adapter is already registered as {dup.label} "
                            "(same weights sha256)")
    name = clean_name(name or _name_from(source))
    plan = read_plan(staging)
    task = plan.get("task") if isinstance(plan.get("task"), dict) else {}
    record = new_adapter(name, base_model=base["name"], base_source=base["source"], weights_sha256=sha,
                         origin="imported", task=task.get("type") if isinstance(task.get("type"), str) else None,
                         description=(description or str(task.get("description") or "")
                                      or f"imported from {source.name}"))

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

