"""The checks an adapter must pass to be imported, as PEFT would load it onto this base model.

`adapter_config.json` field by field (PEFT itself checks no types) and then through PEFT's `LoraConfig`; its
target modules against the base's layers (built on the meta device, no weights); a size cap derived from the
base's shape and the rank; and every tensor: a LoRA factor of a targeted layer whose A and B have the rank
the config says, or a saved module of the base's own shape, and finite. Each refusal is a RegistryError
with one line saying what and where. The pipeline that reads archives and registers is `imports.py`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from .errors import RegistryError
from .store import WEIGHTS

MiB = 1024**2
MAX_RANK = 4096
LORA_KEY = re.compile(r"(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$")


# -- the config ----------------------------------------------------------------------------------------------
def parse_config(raw: bytes, label: str) -> dict:
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


def check_targets(cfg: dict, base: dict, label: str) -> None:
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
def check_base(cfg: dict, base_source: str | None, label: str, home_models: Path) -> dict:
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
