"""The base model a message names: a catalog entry, a hub id, a closed model, or a family and size."""

from __future__ import annotations

import re

from ..models.catalog import find, licence_ok, models

CLOSED = (r"(?<![a-z0-9])(gpt-?4o?(?:-mini)?|gpt-?3\.5(?:-turbo)?|gpt-?5|o1|o3|claude(?:[a-z0-9.\- ]*?\d(?:\.\d)?)?|"
          r"gemini(?:[a-z0-9.\- ]*?\d(?:\.\d)?)?|ernie|kimi)(?![a-z0-9])|(文心一言)")
"""Models whose weights are not published: they cannot be fine-tuned here, whatever the plan says."""


def english_names(low: str) -> str:
    """`low` with the families' Chinese names in English ("千问", "通义千问": qwen), as the patterns read them."""
    return re.sub(r"(?:通义)?千问", "qwen", low)


def named_model(low: str, text: str = "") -> str | None:
    """The base model the message names: a catalog name, alias or hub id as it is; a family and size that the
    catalog does not have (or a closed model, or an `org/name` hub id) as the user said it, never silently
    swapped for the nearest catalog entry — the planner says what it does with it."""
    low = english_names(low)
    for m in sorted(models(), key=lambda m: len(m.name), reverse=True):
        if m.name.lower() in low or m.hub_id.lower() in low:
            return m.name
    if hub := re.search(r"(?<![\w./])([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*[A-Za-z0-9])(?![\w/])", text or low):
        ident = hub.group(1)  # a hub id has a digit, a dash, a dot or a capital inside its name ("Qwen/Qwen2.5-7B",
        # "meta-llama/Llama-3.2-1B", "TinyLlama/TinyLlama_v1.1"); "80/20" and "train/validation" are not ones
        org, name = ident.split("/")
        if (not re.search(r"\.(csv|tsv|jsonl?|parquet|xlsx|txt)$", ident.lower())
                and not re.fullmatch(r"[\d.e+-]+", org) and re.search(r"[\d.-]|.[A-Z]", name)):
            return ident  # as written: hub ids are case-sensitive
    if closed := re.search(CLOSED, low):
        return (closed.group(1) or closed.group(2)).strip()
    # "qwen 7b", "Qwen2.5-1.5B", "llama 8b", "mistral 7b", "llama 70b" (not in the catalog: kept as said).
    # (CJK characters are word characters: "用Qwen 72B训练" has no word boundary around the name or the size.)
    size_said = r"(\d+(?:\.\d+)?)\s*(b)(?![a-z0-9])|(\d{3})\s*(m)(?![a-z0-9])"  # "360m"; not "4m rows"
    m = re.search(rf"(qwen|llama|mistral|gemma|phi|smollm2?)[a-z0-9.\- ]*?(?:{size_said})", low)
    r = None if m else re.search(rf"(?:{size_said})\s*(?:的)?\s*(?:[\w.\-]+\s+)?"
                                 rf"(qwen|llama|mistral|gemma|phi|smollm2?)", low)
    if m or r:  # "smollm 360m": millions
        family, (number, unit) = (m.group(1), m.groups()[1:3] if m.group(2) else m.groups()[3:5]) if m else (
            r.group(5), r.groups()[0:2] if r.group(1) else r.groups()[2:4])
        size = float(number) / (1000 if unit == "m" else 1)
        family_of = [c for c in models() if c.name.lower().startswith(family[:4])]
        unsaid = r"\b(?:not|no|without)\s+(?:the\s+|a\s+)?coder\b|不(?:要|用)\s*coder"  # "qwen 7b, not the coder"
        coder = re.search(r"\bcoder\b", re.sub(unsaid, "", low)) and [c for c in family_of if c.code]  # "the 1.5B
        # qwen coder"
        cands = coder or [c for c in family_of if not c.code]
        if cands:
            nearest = min(cands, key=lambda c: abs(c.params_b - size))
            if abs(nearest.params_b - size) <= 0.3 * size:
                return nearest.name
        return f"{family.capitalize()} {size:g}B"
    for word in re.findall(r"[a-z][\w.\-]+", low):
        entry = find(word)
        if entry and len(word) > 3:
            return entry.name
    return _spelled(low)


def _spelled(low: str) -> str | None:
    """A catalog model spelled in pieces: "phi 3.5 mini", "phi-3.5-mini", "llama3.2 3b" (up to four words that begin
    exactly one catalog name, a version number among them)."""
    words = re.findall(r"[a-z0-9][\w.\-]*", low)
    names = {m.name: re.sub(r"[^a-z0-9]", "", m.name.lower()) for m in models()}
    for n in (4, 3, 2, 1):
        for i in range(len(words) - n + 1):
            key = re.sub(r"[^a-z0-9]", "", "".join(words[i:i + n]))
            if re.match(FAMILY, key) and re.search(r"\d", key) and len(
                    hits := [name for name, flat in names.items() if flat.startswith(key)]) == 1:
                return hits[0]
    return None


FAMILY = r"qwen|llama|smollm2?|gemma|phi|mistral"
STEP = (rf"\b(bigger|larger|smaller|tinier|lighter|biggest|largest|smallest|tiniest)\s+(?:base\s+)?"
        rf"(?:({FAMILY})[\w.-]*\s*)?(?:base\s+)?(?:model|llm)|"
        rf"\b(biggest|largest|smallest|tiniest)\s+({FAMILY})\b|"
        rf"(更大|大一点|大点|更小|小一点|小点|最小|最大)的?\s*(?:({FAMILY})(?:\s*(?:基座)?模型)?|(?:基座)?模型)|"
        rf"(?:基座)?模型\s*(?:再|换)?(?:得)?(更大|大一点|大点|更小|小一点|小点)")
"""A model said relative to the plan's: "a bigger model", "the smallest qwen", "换个小一点的模型"."""
SMALL = (r"\b(?:small|lightweight|light-weight|compact|little)\s+(?:base\s+)?(?:model|llm)s?\b|\bsomething small\b|"
         r"(?<!更)(?<!最)(?:小|轻量级?)的?(?:基座)?模型")
"""A small model asked for ("something small and fast", "想微调一个中文效果好的小模型"): one of 2B parameters or
fewer (`SMALL_B`), the largest in the task's language; the plan's own when it is that small already."""
SMALL_B = 2.0
STEP_ONE = (r"\bmodel\b[^.;!?]{0,80}?\b(bigger|larger|smaller|tinier|lighter) one\b|"
            r"模型(?:(?!学习率|秩|批|轮|长度|预热|dropout|alpha|rank|lr)[^。！？?]){0,40}?换(?:个|一个)?\s*(更大|大一点|大点|"
            r"更小|小一点|小点)的(?=\s*(?:吧|了)?\s*(?:[。！!，,]|$))")
"""A relative model said as "one" after the word model ("that model is too big, pick a smaller one", "模型得能商用，
换个小点的")."""
STEPS = {"bigger": 1, "larger": 1, "更大": 1, "大一点": 1, "大点": 1, "smaller": -1, "tinier": -1, "lighter": -1,
         "更小": -1, "小一点": -1, "小点": -1, "biggest": 2, "largest": 2, "最大": 2, "smallest": -2, "tiniest": -2,
         "最小": -2}


SIZED = (r"(?<!for )(?<!on )\b(?:a|an|some|use)\s+(?:~\s*|about\s+|around\s+|roughly\s+)?(\d+(?:\.\d+)?)\s*b(?:illion)?"
         r"(?:[- ]param(?:eter)?s?)?\s+(?:base\s+|instruct\s+)?(?:model|llm)\b|"
         r"(?<![\w.])(?<!对)(?<!对 )(?<!对于)(?<!对于 )(\d+(?:\.\d+)?)\s*b\s*(?:左右|上下)?的?(?:基座)?模型|"
         r"\bthe\s+(\d+(?:\.\d+)?)\s*b\s+(?:one|version|variant|size)\b|"
         r"(?<![\w.])(\d+(?:\.\d+)?)\s*b\s*(?:的|版本?)(?=\s*(?:吧|那个|就行|就好|[。！!，,]|$))")
"""A model by its size alone ("a ~1B model is enough", "用 3B 左右的模型"): the catalog model in the plan's language
whose name gives the nearest size (`nominal_b`; the plan's own family first when as near), resolved in
`converse`."""


FAMILY_ONLY = (rf"(?:\b(?:use|try|switch\s+to|go\s+with|move\s+to|change\s+to|prefer|fine-?tune|train|keep|"
               rf"stick\s+with|stay\s+with|(?:go\s+|switch\s+|change\s+)?back\s+to|return\s+to)\s+"
               rf"(?:a\s+|the\s+)?|(?:用|换成|改用|试试|换|选)\s*)({FAMILY})(?:\s*-?\s*(\d(?:\.\d)?))?(?:\s+(?:model|family|series|instead))?"
               rf"(?!\s*-?\s*[\d.]+\s*[bm]?\b|[\w.-])")
"""A family without a size ("use qwen", "switch to llama 3.2", "用千问"): its model the catalog would pick for the
plan's GPU (the largest that fits comfortably; the smallest on a CPU)."""


def nominal_b(model) -> float:
    """A catalog model's size as its name says it ("gemma-2-2b-it": 2, "SmolLM2-135M-Instruct": 0.135), which is
    how people name sizes; its parameter count where the name has none ("Phi-3.5-mini")."""
    m = re.search(r"(?<![\d.])(\d+(?:\.\d+)?)([bm])(?![a-z0-9])", model.name.lower())
    return (float(m.group(1)) / (1000 if m.group(2) == "m" else 1)) if m else model.params_b


class ModelStep:
    """A base model one size up or down from the plan's (`step` ±1), the largest or smallest (±2), a small one
    (-3, `SMALL`), or the family's for the GPU (4, `FAMILY_ONLY`, `size` its version), of the named family or of
    the catalog's general models that speak the plan's language; or
    (`size`, step 0) the one nearest a size. Resolved in `converse`."""

    def __init__(self, step: int, family: str | None, size: float = 0.0):
        self.step, self.family, self.size = step, family, size

    def __eq__(self, other) -> bool:
        return isinstance(other, ModelStep) and (self.step, self.family, self.size) == (other.step, other.family,
                                                                                        other.size)

    def __repr__(self) -> str:
        return f"ModelStep({self.step}, {self.family!r}, {self.size:g})"

    @property
    def direction(self) -> int | None:
        """1 or -1 for a step up or down ("a bigger model", "the smallest qwen", "a small model"), which "even smaller"
        or "再小一点" can take again; None for a size or a family said."""
        return (1 if self.step > 0 else -1) if self.step in (-3, -2, -1, 1, 2) else None

    def words(self, plan, name: str, zh: bool) -> str:
        """Why a family said alone landed on `name` (step 4)."""
        gpu = plan.resources.gpu_memory_gb
        if zh:
            return f"{name}：" + (f"能放进 {gpu:g} GB 的这一系列中最大的" if gpu > 0 else
                                  "这一系列中最小的，适合在 CPU 上训练")
        return f"{name}: " + (f"the largest of that family that fits {gpu:g} GB" if gpu > 0 else
                              "the smallest of that family, for a CPU")

    def of(self, plan, licence: str | None = None) -> str | None:
        """The catalog model the step lands on from `plan`'s base model (one size up or down within its own
        family first, when the message names none) among those whose licence is the one required, or None when
        there is none."""
        own = plan.base_model.name.lower()[:4]
        catalog = [m for m in models() if licence_ok(m, licence)]
        if self.step == 4:  # "use qwen", "switch to llama 3.2": the family's model for this GPU
            family = [m for m in catalog if not m.code and m.name.lower().startswith(self.family[:4])]
            version = rf"(?<![\d.]){re.escape(f'{self.size:g}')}(?!\d|[bm](?![a-z]))"
            pool = [m for m in family if self.size and re.search(version, m.name.lower())] or family
            pool = [m for m in pool if plan.task.language in m.languages] or pool
            gpu = plan.resources.gpu_memory_gb
            fits = [m for m in pool if gpu > 0 and m.params_b * 0.9 + 3 <= gpu and m.params_b <= 8.5]
            return (max(fits, key=lambda m: m.params_b) if fits else min(pool, key=lambda m: m.params_b)).name \
                if pool else None
        if self.size:  # "a 1B model": the nearest by the size in its name, the plan's family first when as near
            pool = [m for m in catalog if not m.code and plan.task.language in m.languages]
            off = {m.name: abs(nominal_b(m) - self.size) / self.size for m in pool}
            return min(pool, key=lambda m: (round(off[m.name], 1), not m.name.lower().startswith(own))).name \
                if pool else None
        if self.step == -3:  # "a small model"
            if plan.base_model.params_b <= SMALL_B:
                return plan.base_model.name
            small = [m for m in catalog if not m.code and m.params_b <= SMALL_B and plan.task.language in m.languages]
            return max(small, key=lambda m: m.params_b).name if small else None
        for family in [self.family[:4]] if self.family else [""] if abs(self.step) == 2 else [own, ""]:
            pool = sorted((m for m in catalog if not m.code and m.name.lower().startswith(family)
                           and plan.task.language in m.languages), key=lambda m: m.params_b)
            if abs(self.step) == 2 and pool:
                return (pool[-1] if self.step > 0 else pool[0]).name
            size = plan.base_model.params_b
            picks = [m for m in pool if (m.params_b > size if self.step > 0 else m.params_b < size)]
            if picks:
                return (picks[0] if self.step > 0 else picks[-1]).name
        return None


def model_step(low: str) -> ModelStep | None:
    """The relative model a message asks for (`STEP`, `SIZED`), or None."""
    low = english_names(low)  # "换成最小的千问"
    if sized := re.search(SIZED, low):
        return ModelStep(0, None, float(next(g for g in sized.groups() if g)))
    if family := re.search(FAMILY_ONLY, low):
        return ModelStep(4, family.group(1), float(family.group(2) or 0))
    if not (m := re.search(STEP, low)):  # "that model is too big, pick a smaller one"
        if one := re.search(STEP_ONE, low):
            return ModelStep(STEPS[one.group(1) or one.group(2)], None)
        return ModelStep(-3, None) if re.search(SMALL, low) else None
    word, family = next((m.group(i), m.group(i + 1) if i < 7 else None) for i in (1, 3, 5, 7) if m.group(i))
    return ModelStep(STEPS[word], family)


LICENCE_OPEN = (r"\b(?:apache|mit)(?:[ -]?2(?:\.0)?)?[ -]licen[cs]ed?\b|\bpermissive(?:ly)?[ -]licen[cs]|"
                r"\b(?:osi|open[ -]source)[ -](?:approved\s+)?licen[cs]e|\blicen[cs]e[ds]?\s+(?:is\s+)?(?:under\s+)?"
                r"(?:apache|mit)\b|(?:apache|mit)\s*(?:2(?:\.0)?)?\s*(?:or\s+mit\s+)?(?:licen[cs]e|许可|协议)|"
                r"(?:宽松|开源)的?(?:许可|协议|licen[cs]e)")
"""An open licence required: "it has to be Apache-licensed", "an OSI licence", "开源许可"."""
LICENCE_COMMERCIAL = (r"\bcommercial(?:ly)?[ -](?:use|usable|product|purposes?|deployment|setting|app|service|"
                      r"friendly)|\bfor\s+(?:a\s+)?commercial\b|\bcommercially\b|可以?商用|能够?商用|允许商用|商业(?:用途|使用|产品|化|场景)|"
                      r"用于商业|用来商用|要商用")
"""A licence that allows commercial use required: "we'll use it commercially", "要能商用"."""
LICENCE_ANY = (r"\bany\s+licen[cs]e\b|\blicen[cs]e\s+(?:doesn'?t|does\s+not|won'?t)\s+matter|"
               r"\b(?:don'?t|do\s+not)\s+care\s+about\s+(?:the\s+)?licen[cs]e|\bno\s+licen[cs]e\s+(?:requirement|"
               r"constraint)s?|许可(?:证)?(?:无所谓|不重要|都行|不限)|不(?:在乎|管|限)许可")
"""No licence required (after one was): "any licence is fine", "许可无所谓"."""


def licence_wanted(low: str) -> str | None:
    """The licence a message requires of the base model: "open", "commercial", "any" (none), or None (not said);
    not in a question ("can I use llama commercially?" asks)."""
    if re.search(r"[?？吗]\s*$", low):
        return None
    for wanted, words in (("any", LICENCE_ANY), ("open", LICENCE_OPEN), ("commercial", LICENCE_COMMERCIAL)):
        if re.search(words, low):
            return wanted
    return None
