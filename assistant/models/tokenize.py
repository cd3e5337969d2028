"""A base model's tokenizer and chat template, for counting tokens and showing the exact training text.

Planning must be fast (no torch, no transformers import), so this uses the `tokenizers` library on a model's
`tokenizer.json` and renders its chat template with Jinja the way transformers does. Where the files come
from, in order: a local model folder, `<home>/models/<name>`, the user cache (`$TAILOR_CACHE`, default
`~/.cache/tailor`). The embedded SmolLM2's tokenizer is read once from its GGUF file into that cache.
When a model's tokenizer is not on this machine, counts are estimated and the plan says so.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..config import environment
from .catalog import CatalogModel, find

# A base model without a chat template gets this one (ChatML), saved with the adapter.
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# The chat template families of the catalog, used to show examples when the model's files are not here.
FAMILY_TEMPLATES = {
    "chatml": (
        "{% for message in messages %}"
        "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ '<|begin_of_text|>' }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
        "'<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    "mistral": (
        "{{ '<s>' }}{% set system = messages[0]['content'] if messages[0]['role'] == 'system' else '' %}"
        "{% for message in messages if message['role'] != 'system' %}{% if message['role'] == 'user' %}"
        "{{ '[INST] ' + ((system + '\n\n') if loop.first and system else '') + message['content'] + '[/INST]' }}"
        "{% else %}{{ ' ' + message['content'] + '</s>' }}{% endif %}{% endfor %}"
    ),
    "gemma": (
        "{{ '<bos>' }}{% set system = messages[0]['content'] + '\n\n' if messages[0]['role'] == 'system' else '' %}"
        "{% for message in messages if message['role'] != 'system' %}{{ '<start_of_turn>' + "
        "('model' if message['role'] == 'assistant' else 'user') + '\n' + (system if loop.first else '') + "
        "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
    ),
    "phi3": (
        "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    ),
}


@dataclass
class ModelText:
    """A model's tokenizer (None when not on this machine) and chat template."""

    name: str
    template: str
    tokenizer: object | None = None
    template_is_family: bool = False
    """The template is the catalog family's, not read from the model's own files."""

    @property
    def exact(self) -> bool:
        return self.tokenizer is not None

    def render(self, messages: list[dict], add_generation_prompt: bool = False) -> str:
        return _compiled(self.template).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                               bos_token="", eos_token="")

    def count(self, texts: list[str], chars_per_token: float = 3.5) -> list[int]:
        """Token counts (exact with the tokenizer, else estimated from characters)."""
        if self.tokenizer is None:
            return [int(len(t) / chars_per_token) + 1 for t in texts]
        return [len(e.ids) for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]


def model_text(source: str, home_models: Path | None = None, extract_embedded: bool = True) -> ModelText:
    """The tokenizer and chat template of a plan's base model (a catalog name, hub id or local folder)."""
    entry = find(source)
    folder = _tokenizer_folder(source, entry, home_models)
    if folder is None and entry is not None and entry.embedded and extract_embedded:
        try:
            folder = extract_embedded_tokenizer()
        except Exception:  # noqa: BLE001 - a broken GGUF must not break planning; counts fall back to estimates
            folder = None
    name = entry.name if entry else Path(source).name
    if folder is None:
        family = entry.chat_template if entry else "chatml"
        return ModelText(name, FAMILY_TEMPLATES.get(family, FAMILY_TEMPLATES["chatml"]), None, True)
    tok, template = _load_folder(str(folder))
    if template is None:
        template = DEFAULT_CHAT_TEMPLATE
    return ModelText(name, template, tok, False)


def _tokenizer_folder(source: str, entry: CatalogModel | None, home_models: Path | None) -> Path | None:
    candidates = []
    if source and Path(source).expanduser().is_dir():
        candidates.append(Path(source).expanduser())
    names = {entry.name, entry.hub_id.replace("/", "--")} if entry else {source.replace("/", "--")}
    for n in names:
        if home_models is not None:
            candidates.append(home_models / n)
        candidates.append(environment().cache / "tokenizers" / n)
    return next((c for c in candidates if (c / "tokenizer.json").exists()), None)


@lru_cache(maxsize=8)
def _load_folder(folder: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    template = None
    jinja = Path(folder) / "chat_template.jinja"
    cfg = Path(folder) / "tokenizer_config.json"
    if jinja.exists():
        template = jinja.read_text(encoding="utf-8")
    elif cfg.exists():
        t = json.loads(cfg.read_text(encoding="utf-8")).get("chat_template")
        template = t if isinstance(t, str) else None
    return tok, template


@lru_cache(maxsize=16)
def _compiled(template: str):
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def extract_embedded_tokenizer() -> Path:
    """Write the embedded SmolLM2's tokenizer.json and chat template (read from its GGUF) into the cache, once."""
    from .catalog import DEFAULT
    from .resolve import embedded_gguf

    target = environment().cache / "tokenizers" / DEFAULT.name
    if (target / "tokenizer.json").exists():
        return target
    from gguf import GGUFReader
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    reader = GGUFReader(str(embedded_gguf()))

    def strings(key: str) -> list[str]:
        f = reader.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens, merges = strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges")
    kinds = reader.fields["tokenizer.ggml.token_type"]
    types = [int(kinds.parts[i][0]) for i in kinds.data]
    template = strings("tokenizer.chat_template")[0]
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, [tuple(m.split(" ", 1)) for m in merges],
                               fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    tmp = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tok.save(str(tmp / "tokenizer.json"))
    (tmp / "chat_template.jinja").write_text(template, encoding="utf-8")
    try:
        tmp.rename(target)
    except OSError:  # another process won the race; theirs is the same
        shutil.rmtree(tmp, ignore_errors=True)
    return target
