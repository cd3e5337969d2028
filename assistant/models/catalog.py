"""The base model catalog: real hub ids with their size, languages, licence, chat template and shape.

The shape (hidden size, layers, ...) feeds the memory estimator; defaults are chosen by task, language
and hardware. The embedded SmolLM2-135M-Instruct is the default when there is no network and no GPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool = False
    softcapped: bool = False
    """Logit soft-capping (Gemma 2): the lean trainer's head applies it chunk by chunk, like any model's head."""


@dataclass(frozen=True)
class CatalogModel:
    name: str
    """Short name shown to users."""
    hub_id: str
    """Hugging Face hub id."""
    params_b: float
    """Parameters in billions."""
    languages: tuple[str, ...]
    """Languages it is strong in (ISO codes)."""
    license: str
    chat_template: str
    """Chat template family: chatml, llama3, mistral, gemma, phi3."""
    shape: ModelShape
    code: bool = False
    """Tuned for code."""
    embedded: bool = False
    """Ships inside Tailor's dependencies (no network needed)."""
    aliases: tuple[str, ...] = ()

    def check(self) -> None:
        """Raise ValueError when the entry cannot be planned with (a plugin registered something invalid)."""
        from ..plugins.records import Invalid

        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9][\w.\-]{0,99}", self.name):
            raise Invalid(f"model name {self.name!r}: letters, digits, '.', '-' and '_' (at most 100)")
        if not isinstance(self.hub_id, str) or not self.hub_id.strip():
            raise Invalid(f"model {self.name!r}: hub_id must name a hub repository or a local folder")
        if not isinstance(self.params_b, (int, float)) or not 0 < self.params_b < 2000:
            raise Invalid(f"model {self.name!r}: params_b must be the size in billions (more than 0)")
        if self.chat_template not in TEMPLATES:
            raise Invalid(f"model {self.name!r}: chat_template must be one of {', '.join(TEMPLATES)}")
        if not isinstance(self.shape, ModelShape) or not all(
                isinstance(v, int) and v > 0 for v in (self.shape.hidden, self.shape.intermediate, self.shape.layers,
                                                        self.shape.heads, self.shape.kv_heads, self.shape.vocab)):
            raise Invalid(f"model {self.name!r}: shape needs positive integers (hidden, intermediate, layers, ...)")
        if isinstance(self.languages, str) or not all(isinstance(x, str) for x in self.languages):
            raise Invalid(f"model {self.name!r}: languages must be a list of ISO codes")


def _m(name, hub, b, langs, lic, tmpl, shape, **kw) -> CatalogModel:
    return CatalogModel(name, hub, b, langs, lic, tmpl, ModelShape(*shape), **kw)


QWEN_LANGS = ("en", "zh", "ja", "ko", "fr", "de", "es", "ru", "ar", "vi")
LLAMA_LANGS = ("en", "de", "fr", "es", "it", "pt", "hi", "th")
BUILTIN_MODELS: tuple[CatalogModel, ...] = (
    _m("SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct", 0.135, ("en",), "apache-2.0", "chatml",
       (576, 1536, 30, 9, 3, 49152, True), embedded=True, aliases=("smollm2", "smollm", "smol")),
    _m("SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct", 0.36, ("en",), "apache-2.0", "chatml",
       (960, 2560, 32, 15, 5, 49152, True)),
    _m("SmolLM2-1.7B-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct", 1.7, ("en",), "apache-2.0", "chatml",
       (2048, 8192, 24, 32, 32, 49152, True)),
    _m("Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", 0.49, QWEN_LANGS, "apache-2.0", "chatml",
       (896, 4864, 24, 14, 2, 151936, True)),
    _m("Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", 1.54, QWEN_LANGS, "apache-2.0", "chatml",
       (1536, 8960, 28, 12, 2, 151936, True)),
    _m("Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-3B-Instruct", 3.09, QWEN_LANGS, "qwen-research", "chatml",
       (2048, 11008, 36, 16, 2, 151936, True)),
    _m("Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", 7.62, QWEN_LANGS, "apache-2.0", "chatml",
       (3584, 18944, 28, 28, 4, 152064)),
    _m("Qwen2.5-14B-Instruct", "Qwen/Qwen2.5-14B-Instruct", 14.7, QWEN_LANGS, "apache-2.0", "chatml",
       (5120, 13824, 48, 40, 8, 152064)),
    _m("Qwen2.5-Coder-1.5B-Instruct", "Qwen/Qwen2.5-Coder-1.5B-Instruct", 1.54, QWEN_LANGS, "apache-2.0", "chatml",
       (1536, 8960, 28, 12, 2, 151936, True), code=True),
    _m("Qwen2.5-Coder-7B-Instruct", "Qwen/Qwen2.5-Coder-7B-Instruct", 7.62, QWEN_LANGS, "apache-2.0", "chatml",
       (3584, 18944, 28, 28, 4, 152064), code=True),
    _m("Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-1B-Instruct", 1.24, LLAMA_LANGS,
       "llama3.2", "llama3", (2048, 8192, 16, 32, 8, 128256, True)),
    _m("Llama-3.2-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct", 3.21, LLAMA_LANGS,
       "llama3.2", "llama3", (3072, 8192, 28, 24, 8, 128256, True)),
    _m("Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", 8.03, LLAMA_LANGS,
       "llama3.1", "llama3", (4096, 14336, 32, 32, 8, 128256), aliases=("llama 8b", "llama3 8b", "llama-3-8b")),
    _m("Mistral-7B-Instruct-v0.3", "mistralai/Mistral-7B-Instruct-v0.3", 7.25, ("en", "fr", "de", "es", "it"),
       "apache-2.0", "mistral", (4096, 14336, 32, 32, 8, 32768), aliases=("mistral", "mistral 7b")),
    _m("gemma-2-2b-it", "google/gemma-2-2b-it", 2.61, ("en",), "gemma", "gemma",
       (2304, 9216, 26, 8, 4, 256000, True, True), aliases=("gemma", "gemma 2b")),
    _m("Phi-3.5-mini-instruct", "microsoft/Phi-3.5-mini-instruct", 3.82, ("en",), "mit", "phi3",
       (3072, 8192, 32, 32, 32, 32064), aliases=("phi", "phi-3.5", "phi3")),
)

DEFAULT = BUILTIN_MODELS[0]
TEMPLATES = ("chatml", "llama3", "mistral", "gemma", "phi3")


def models() -> tuple[CatalogModel, ...]:
    """The catalog: the built-in models and those installed plugins register (`register_models`)."""
    from .. import plugins

    return tuple(plugins.get().models.values())


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", s.lower())


def find(name: str) -> CatalogModel | None:
    """The catalog entry for a name, hub id or alias, forgiving case, spaces and dashes."""
    key = _norm(name)
    for m in models():
        if key in (_norm(m.name), _norm(m.hub_id), *(_norm(a) for a in m.aliases)):
            return m
    return None


LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
                  "pt": "Portuguese", "ja": "Japanese", "ko": "Korean", "ru": "Russian", "ar": "Arabic",
                  "vi": "Vietnamese", "hi": "Hindi", "th": "Thai"}
"""The languages a plan can be for (the catalog's `languages` codes), by name."""


OPEN_LICENCES = ("apache-2.0", "mit")
COMMERCIAL_LICENCES = (*OPEN_LICENCES, "llama3.1", "llama3.2", "gemma")
"""Licences that allow commercial use: the open ones, and Llama's and Gemma's within their terms (Llama's needs
Meta's permission above 700 million monthly users; both have use policies); not qwen-research (Qwen2.5-3B)."""


def licence_ok(model: CatalogModel, wanted: str | None) -> bool:
    """Whether a model's licence is what the user requires: "open" (Apache-2.0 or MIT), "commercial" (allows
    commercial use); anything when they require nothing ("any", None)."""
    if wanted == "open":
        return model.license in OPEN_LICENCES
    return wanted != "commercial" or model.license in COMMERCIAL_LICENCES


def choose(task_type: str | None, language: str, gpu_memory_gb: float,
           licence: str | None = None) -> tuple[CatalogModel, str]:
    """The default base model for a task, language and GPU memory (and the licence the user requires), with the
    reason."""
    if gpu_memory_gb <= 0:
        return DEFAULT, ("no GPU: the embedded SmolLM2-135M-Instruct is small enough to train on a CPU, and needs "
                         "no download")
    code = task_type == "code"
    if language == "zh":
        chinese = [m for m in models() if "zh" in m.languages]
        pool = [m for m in chinese if m.code == code] or chinese
        why = "strong in Chinese"
    elif code:
        pool = [m for m in models() if m.code]
        why = "tuned for code"
    else:
        pool = [m for m in models() if not m.code and m.name.startswith(("Qwen2.5", "Llama-3"))]
        why = "a strong open instruct model"
        if language != "en" and (speaking := [m for m in pool if language in m.languages]):
            pool, why = speaking, f"strong in {LANGUAGE_NAMES.get(language, language)}"  # Japanese: not Llama
    if licence not in (None, "any"):  # "it has to be Apache-licensed": only such models (the task's language first)
        pool = [m for m in pool if licence_ok(m, licence)] or [
            m for m in models() if licence_ok(m, licence) and language in m.languages and m.code == code] or pool
    # The largest model whose QLoRA training comfortably fits the memory (about 1 GB per billion plus headroom).
    fitting = [m for m in pool if m.params_b * 0.9 + 3 <= gpu_memory_gb and m.params_b <= 8.5]
    pick = max(fitting, key=lambda m: m.params_b) if fitting else min(pool, key=lambda m: m.params_b)
    return pick, f"{why}, and the largest such model that fits {gpu_memory_gb:g} GB"
