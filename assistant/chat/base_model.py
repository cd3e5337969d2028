"""The base model of a plan: the one the user named (a catalog name, a local folder, a hub id — honoured), or an
honest replacement when the named one cannot be used (closed, or too big even in 4 bits), or the catalog's
choice by task, language and memory; and the shape the memory estimate works from.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..models import catalog
from ..plan import Plan
from .model_words import CLOSED

if TYPE_CHECKING:
    from .slots import Slots


def _on_this_machine(entry: catalog.CatalogModel, home_models: Path | None) -> bool:
    """Whether a catalog model's weights are here: in the data home's models/ or the Hugging Face cache."""
    if home_models is not None and (home_models / entry.name / "config.json").exists():
        return True
    hf_home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    hub = Path(os.environ.get("HF_HUB_CACHE") or hf_home / "hub")
    return any((hub / f"models--{entry.hub_id.replace('/', '--')}" / "snapshots").glob("*/config.json"))


def choose_model(plan: Plan, s: Slots, language: str, gpu_gb: float, default: str | None, why: dict,
                  home_models: Path | None = None) -> None:
    b = plan.base_model
    named = catalog.LANGUAGE_NAMES.get(language, language)  # "French", in the reasons
    if s.base_model and (catalog.find(s.base_model) or Path(s.base_model).expanduser().is_dir()):
        entry = catalog.find(s.base_model)
        b.name, b.source = (entry.name, entry.name) if entry else (Path(s.base_model).name, s.base_model)
        why["base_model"] = "you asked for it"
    elif s.base_model and "/" in s.base_model and not re.search(CLOSED, s.base_model.lower()):
        # A hub id: honoured as given. Its size is read from its name when it says (…-70B-…); until it is
        # downloaded, its memory is estimated like the catalog model nearest in size.
        b.name, b.source = s.base_model.rsplit("/", 1)[1], s.base_model
        size = re.search(r"(\d+(?:\.\d+)?)\s*b\b", s.base_model.lower().replace("-", " "))
        b.params_b = float(size.group(1)) if size else 0.0
        why["base_model"] = (f"you asked for {s.base_model}" + (f" (about {b.params_b:g}B parameters, read from its "
                             "name; its memory is estimated from that size until it is downloaded)" if size else
                             " (its size is not in its name: the memory estimate assumes the default model's shape "
                             "until it is downloaded)")) + licence_words(None, s.licence)
        return
    elif s.base_model:
        _replace_named(plan, s.base_model, language, gpu_gb, why, s.licence)
    elif gpu_gb <= 0 and default and not catalog.find(default):
        b.name, b.source = Path(default).name, default
        why["base_model"] = "the default base model in your settings"
    else:
        entry, reason = catalog.choose(plan.task.type, language, gpu_gb, s.licence)
        if gpu_gb <= 0 and default and catalog.find(default):
            entry = catalog.find(default)
        if gpu_gb <= 0 and language not in entry.languages:
            # On a CPU a small model strong in the task's language beats the embedded English one, if it is here.
            better = sorted((m for m in catalog.models()
                             if language in m.languages and m.params_b <= 1.6 and not m.code), key=lambda m: m.params_b)
            here = next((m for m in better if _on_this_machine(m, home_models)), None)
            if here is not None:
                entry, reason = here, (f"no GPU: {here.name} is small enough for a CPU and strong in {named}, "
                                       "and it is on this machine")
            elif better:
                reason += (f" (note: {entry.name} is weak in {named}; {better[0].name} is better — it is not on "
                           f"this machine: put it in models/{better[0].name} or ask for it by name)")
        b.name, b.source = entry.name, entry.name
        why["base_model"] = reason
    entry = catalog.find(b.source)
    if entry:
        b.params_b, b.chat_template = entry.params_b, entry.chat_template
        if language not in entry.languages and language != "en" and "weak in" not in why["base_model"]:
            why["base_model"] += f" (note: {entry.name} is weak in {named})"
        why["base_model"] += licence_words(entry, s.licence)
    elif (shape := local_shape(b.source)) is not None:
        from ..models.estimate import param_count
        b.params_b = round(param_count(shape) / 1e9, 4)
    if not entry:  # a local folder
        why["base_model"] += licence_words(None, s.licence)


def _replace_named(plan: Plan, named: str, language: str, gpu_gb: float, why: dict, licence: str | None) -> None:
    """A model the user named that cannot be used as named — closed, or a family and size the catalog does not
    have — replaced by the nearest usable choice, with the true reason (never "you asked for it")."""
    from ..models.estimate import qlora_floor_gb as qlora_gb

    b = plan.base_model
    fallback, reason = catalog.choose(plan.task.type, language, gpu_gb, licence)
    if re.search(CLOSED, named.lower()):
        why["base_model"] = (f"⚠️ {named} is a closed model: its weights are not published, so it cannot be fine-tuned "
                             f"here. Planned with {fallback.name} instead ({reason})")
    else:
        size = re.search(r"(\d+(?:\.\d+)?)\s*b\b", named.lower())
        params = float(size.group(1)) if size else 0.0
        family = [m for m in catalog.models() if m.name.lower().startswith(named.lower()[:4]) and not m.code]
        fitting = [m for m in family if gpu_gb > 0 and qlora_gb(m.params_b) <= gpu_gb
                   and catalog.licence_ok(m, licence)]
        if gpu_gb <= 0:
            cannot = f"a {params:g}B model cannot be trained on a CPU" if params else "it is not in the catalog"
        elif params and qlora_gb(params) > gpu_gb:
            cannot = (f"it does not fit your {gpu_gb:g} GB even in 4 bits (QLoRA needs about {qlora_gb(params):.0f} "
                      "GB)")
        else:
            cannot = ("it is not in the catalog, so its hub id is not known: name it by hub id (organisation/name) "
                      "to train it")
        if fitting:
            fallback = max(fitting, key=lambda m: m.params_b)
            reason = f"the largest {fallback.name.split('-')[0]} in the catalog that fits"
        why["base_model"] = f"⚠️ You asked for {named}, but {cannot}. Planned with {fallback.name} instead ({reason})"
    b.name = b.source = fallback.name


def licence_words(entry: catalog.CatalogModel | None, wanted: str | None) -> str:
    """What the base model's licence is against the one the user requires ("it must be Apache-licensed", "for
    commercial use"): said as kept, or warned of (a model they named, or none in the catalog that fits has it; a
    model outside the catalog, whose licence Tailor does not know)."""
    if wanted not in ("open", "commercial"):
        return ""
    if entry is None:
        return " (⚠️ its licence is not known here: check it on its model page)"
    if catalog.licence_ok(entry, wanted):
        return f"; its licence ({entry.license}) " + ("is open, as you asked" if wanted == "open" else
                                                      "allows commercial use, as you asked")
    return (f" (⚠️ its licence, {entry.license}, " + ("is not an open one (Apache-2.0 or MIT)" if wanted == "open" else
                                                      "does not allow commercial use") + ", which you asked for)")


def local_shape(source: str):
    """The shape of a local model folder, read from its config.json."""
    from ..models.catalog import ModelShape

    cfg_path = Path(source).expanduser() / "config.json"
    if not cfg_path.exists():
        return None
    c = json.loads(cfg_path.read_text())
    return ModelShape(c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["num_attention_heads"],
                      c.get("num_key_value_heads", c["num_attention_heads"]), c["vocab_size"],
                      bool(c.get("tie_word_embeddings", False)), c.get("final_logit_softcapping") is not None)


def model_shape(plan: Plan):
    """The base's shape: from the catalog, its local config.json, or — for a hub id not downloaded yet — the
    catalog model nearest in size (the default model's when its size is unknown)."""
    b = plan.base_model
    entry = catalog.find(b.source)
    if entry:
        return entry.shape
    if (shape := local_shape(b.source)) is not None:
        return shape
    if b.params_b:  # the nearest catalog model's shape, with as many layers as make this size
        from dataclasses import replace

        near = min(catalog.models(), key=lambda m: abs(m.params_b - b.params_b))
        return replace(near.shape, layers=max(1, round(near.shape.layers * b.params_b / near.params_b)))
    return catalog.DEFAULT.shape
