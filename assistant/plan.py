"""The Plan: the contract between the conversation and the trainer.

A plan is a typed, validated object that round-trips through JSON. Everything a training run does follows
from its plan, and the plan is stored with the adapter, so any adapter can be reproduced. The schema is
documented in docs/plan-schema.md; each field is documented once, here, under its declaration.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from .adjustable import METHODS, SETTINGS, get_path, metric_names, task_types
from .errors import TailorError
from .sweeps import SweepSpec

__all__ = ["METHODS", "Plan", "PlanError", "task_types"]

SCHEMA_VERSION = 1

def data_formats() -> tuple[str, ...]:
    """The registered data formats (built-in and from installed plugins)."""
    from . import plugins

    return tuple(plugins.get().formats)


PRECISIONS = ("fp32", "bf16", "fp16")


class PlanError(TailorError, ValueError):
    """A plan (or its JSON) is invalid. `problems` lists every problem, each naming its field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid plan: " + "; ".join(problems))


@dataclass
class TaskSpec:
    type: str | None = None
    """A registered task type (`task_types()`); None until the conversation has established it."""
    language: str = "en"
    """ISO 639-1 code of the language the task is done in (`en`, `zh`, ...)."""
    description: str = ""
    """The user's own words describing the task."""
    instruction: str = ""
    """System prompt given to the model for every example, in training and in use."""
    labels: list[str] = field(default_factory=list)
    """Classification only: the label set, in the order found in the data."""


@dataclass
class TokenStats:
    tokenizer: str = ""
    """Whose tokenizer counted (the base model's name)."""
    exact: bool = False
    """True when counted with that tokenizer; false when estimated from characters (tokenizer not here)."""
    median: int = 0
    """Median tokens per example, chat template and instruction included."""
    p95: int = 0
    """95th percentile of tokens per example."""
    longest: int = 0
    """Tokens in the longest example."""
    truncated: int = 0
    """Examples longer than `training.max_length`, which training truncates."""
    mean: int = 0
    """Mean tokens per example, each counted up to `training.max_length`: what a packed run trains on (0 in plans
    made before it was counted: the median stands for it)."""

    answers: int = 0
    """Mean tokens per example that the loss is on (its answers, end-of-turn tokens included; each example cut
    at `training.max_length`): what the LM head computes logits for (0 in plans made before they were counted)."""

    quantiles: list[int] = field(default_factory=list)
    """Tokens per example at the 2.5th, 7.5th, … 97.5th percentiles (20 values, uncut): what a sweep trial at
    another max_length is counted from (empty in plans made before they were kept)."""

    def packed(self, max_length: int) -> int:
        """Tokens per example a packed run trains on, at rows of `max_length` tokens (0 when not counted)."""
        return min(self.mean or self.median, max_length)

    def recount(self, max_length: int, examples: int) -> None:
        """`mean` and `truncated` at rows of `max_length` tokens (of `examples` in all), estimated from
        `quantiles`, for a sweep trial that varies max_length; unchanged in a plan without them."""
        q = self.quantiles
        if q:
            self.mean = round(sum(min(x, max_length) for x in q) / len(q))
            self.truncated = 0 if max_length >= self.longest else \
                max(1, round(examples * sum(x > max_length for x in q) / len(q)))


@dataclass
class DataSpec:
    path: str | None = None
    """The data file (an upload copied into the data home, or a path given on the command line)."""
    format: str | None = None
    """A registered format (`data_formats()`), detected from the file."""
    input_columns: list[str] = field(default_factory=list)
    """`columns` format: the columns that make the model's input, in order."""
    output_column: str | None = None
    """`columns` format: the column the model must produce."""
    sha256: str | None = None
    """Fingerprint of the file's bytes."""
    rows: int = 0
    """Usable rows in the file."""
    max_rows: int = 0
    """Use at most this many rows (a random sample, stratified by label when `stratify`); 0 uses them all."""

    @property
    def used_rows(self) -> int:
        """The rows training and the held-out split draw from: `rows`, or `max_rows` when fewer."""
        return min(self.rows, self.max_rows) if self.max_rows else self.rows
    validation_fraction: float = 0.1
    """Share of rows held out for evaluation (0 disables the held-out split)."""
    stratify: bool = False
    """Whether the held-out split keeps label proportions (classification)."""
    split_seed: int = 42
    """Seed of the train/validation split."""
    group_inputs: bool = False
    """Rows that ask the same (one input, repeated in the data) stay on one side of the split, so no held-out row
    repeats a training input. The planner sets it; a plan without it (made before it, or by hand) splits row by
    row, so an adapter's held-out rows rebuild as its job drew them."""
    tokens: TokenStats = field(default_factory=TokenStats)
    """Token statistics of the examples as they will be trained on."""
    warnings: list[str] = field(default_factory=list)
    """What the data doctor found (duplicates, empty outputs, tiny classes, long rows)."""


@dataclass
class BaseModelSpec:
    """The model being adapted: what it is called, where it comes from, its size and chat template."""

    name: str = "SmolLM2-135M-Instruct"
    """Display name (catalog name) of the base model."""
    source: str = "SmolLM2-135M-Instruct"
    """What to load: a catalog name, a hub id or a local folder."""
    params_b: float = 0.135
    """Parameter count in billions."""
    chat_template: str = "chatml"
    """Name of the chat template family the model uses (informational; the tokenizer's own is used)."""


@dataclass
class LoraSpec:
    method: str = "lora"
    """`lora` (16-bit base) or `qlora` (4-bit NF4 base via bitsandbytes; CUDA only)."""
    r: int = 16
    """LoRA rank."""
    alpha: int = 32
    """LoRA scaling numerator (scale = alpha / r)."""
    dropout: float = 0.05
    """Dropout on the LoRA input."""
    target_modules: list[str] | str = "all-linear"
    """Module names to adapt, or `all-linear`."""


@dataclass
class TrainingSpec:
    epochs: float = 3.0
    """Passes over the training split."""
    learning_rate: float = 2e-4
    """Peak learning rate."""
    scheduler: str = "cosine"
    """Learning-rate schedule, one of `adjustable.SCHEDULERS`."""
    warmup_ratio: float = 0.05
    """Share of steps spent warming up."""
    batch_size: int = 8
    """Rows per device per step."""
    gradient_accumulation: int = 1
    """Steps whose gradients are summed before each optimizer step."""
    max_length: int = 512
    """Longest tokenized example; longer ones are truncated."""
    packing: bool = False
    """Pack several short examples into one row (without cross-attention between them)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass to save memory."""
    precision: str = "fp32"
    """`fp32` (CPU), `bf16` (recent GPUs) or `fp16`."""
    seed: int = 42
    """Seed of initialisation, shuffling and dropout."""
    max_steps: int = -1
    """Stop after this many optimizer steps (-1: run all epochs)."""
    eval_steps: int = 0
    """Evaluate every N steps (0: once per epoch)."""
    save_steps: int = 0
    """Checkpoint every N steps (0: once per epoch)."""
    save_total_limit: int = 2
    """Checkpoints kept on disk (the best is always kept)."""
    early_stopping_patience: int = 0
    """Stop after this many evaluations without improvement (0: never)."""
    completion_only_loss: bool = True
    """Compute the loss only on the answer, not on the prompt."""
    compile: bool = False
    """Compile each decoder layer with torch.compile (GPU plans); falls back to eager, the reason in the job's log."""


@dataclass
class EvaluationSpec:
    metrics: list[str] = field(default_factory=list)
    """Metrics computed on the held-out split: registered metric names (`metric_names()`)."""


@dataclass
class Resources:
    """The hardware the plan is sized for, and the estimate of what the run needs of it."""

    device: str = "cpu"
    """`cpu` or `cuda`."""
    gpu_name: str = ""
    """The GPU's name when known."""
    gpu_memory_gb: float = 0.0
    """Memory of the GPU in GiB (0: no GPU)."""
    estimated_peak_gb: float = 0.0
    """Predicted peak memory of the run in GiB."""
    fits: bool = True
    """Whether the estimate fits in the available memory."""
    estimated_minutes: float = 0.0
    """Predicted training time in minutes."""


@dataclass
class Plan:
    task: TaskSpec = field(default_factory=TaskSpec)
    """What the model must learn to do."""
    data: DataSpec = field(default_factory=DataSpec)
    """Which data, in which format and mapping, split how."""
    base_model: BaseModelSpec = field(default_factory=BaseModelSpec)
    """The model being adapted."""
    lora: LoraSpec = field(default_factory=LoraSpec)
    """Adapter method and settings."""
    training: TrainingSpec = field(default_factory=TrainingSpec)
    """Optimizer and loop settings."""
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    """How the result is measured."""
    resources: Resources = field(default_factory=Resources)
    """The hardware and the estimate of what the run needs."""
    name: str = ""
    """Suggested adapter name (letters, digits, `-`, `_`)."""
    reasons: dict[str, str] = field(default_factory=dict)
    """One line per choice, keyed by field path (e.g. `lora.r`), saying why."""
    plugins: dict[str, str] = field(default_factory=dict)
    """Installed plugins (name → version) whose task, format, metrics or base model the plan uses."""
    sweep: SweepSpec = field(default_factory=SweepSpec)
    """Several trials with other settings, the held-out results choosing the adapter kept (`assistant/sweeps.py`)."""
    schema_version: int = SCHEMA_VERSION
    """Version of this schema."""

    # -- JSON round trip -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Plan:
        problems: list[str] = []
        plan = _build(cls, raw, "", problems)
        if problems:
            raise PlanError(problems)
        plan.validate()
        return plan

    @classmethod
    def from_json(cls, text: str, accept_turn: bool = False) -> Plan:
        """A plan from its JSON. With `accept_turn`, also the whole output of `tailor plan --json` (the plan is
        its `plan` member), so `tailor plan --json ... > plan.json; tailor train plan.json` works."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise PlanError([f"(file): not JSON — {e.msg} at line {e.lineno}, column {e.colno}"]) from e
        if not isinstance(raw, dict):
            raise PlanError(["(file): a plan is a JSON object"])
        if accept_turn and isinstance(raw.get("plan"), dict) and {"ready", "reply"} & set(raw):
            raw = raw["plan"]
        return cls.from_dict(raw)

    # -- validation ------------------------------------------------------------------------------------
    def problems(self, require_ready: bool = False) -> list[str]:
        """Every problem with this plan, each naming its field. `require_ready` also demands a task and data."""
        p: list[str] = []
        t, d, lo, tr = self.task, self.data, self.lora, self.training
        for s in SETTINGS.values():  # what a user can set, within the bounds declared with it
            value = get_path(self, s.field) if s.field else None
            if s.field == "training.epochs" and tr.max_steps > 0:
                continue  # a run bounded by steps needs no epochs
            if value is not None and not _allowed(s, value):
                p.append(f"{s.field}: {value!r} must be {s.bounds}")
        from . import plugins

        missing = plugins.get().missing(self.plugins)
        if missing:
            p.append(f"plugins: planned with {', '.join(missing)}, which is not installed here (pip install it)")
        if d.format is not None and d.format not in data_formats():
            p.append(f"data.format: {d.format!r} is not one of {', '.join(data_formats())}")
        if d.format == "columns" and not (d.input_columns and d.output_column):
            p.append("data.input_columns/output_column: the `columns` format needs both")
        if not 0 <= d.validation_fraction < 0.9:
            p.append(f"data.validation_fraction: {d.validation_fraction} must be in [0, 0.9)")
        if lo.method == "qlora" and self.resources.device != "cuda":
            p.append("lora.method: QLoRA needs a CUDA GPU (bitsandbytes 4-bit); use `lora` on CPU")
        if not (isinstance(lo.target_modules, str) or lo.target_modules):
            p.append("lora.target_modules: give module names or `all-linear`")
        if tr.gradient_accumulation < 1:
            p.append("training.gradient_accumulation: must be at least 1")
        if tr.precision not in PRECISIONS:
            p.append(f"training.precision: {tr.precision!r} is not one of {', '.join(PRECISIONS)}")
        if tr.precision != "fp32" and self.resources.device == "cpu":
            p.append("training.precision: on CPU only fp32 is supported")
        for m in self.evaluation.metrics:
            if m not in metric_names():
                p.append(f"evaluation.metrics: {m!r} is not one of {', '.join(metric_names())}")
        from .sweeps import problems as sweep_problems

        p += sweep_problems(self)
        if self.name and not all(c.isalnum() or c in "-_." for c in self.name):
            p.append(f"name: {self.name!r} may hold only letters, digits, '-', '_' and '.'")
        if require_ready:
            if t.type is None:
                p.append("task.type: unknown — say what the model should do")
            if not d.path:
                p.append("data.path: no data attached")
            if not self.resources.fits:
                p.append(
                    f"resources.fits: the plan needs about {self.resources.estimated_peak_gb:.1f} GB "
                    f"but {self.resources.gpu_memory_gb:.0f} GB are available"
                )
        return p

    def validate(self, require_ready: bool = False) -> Plan:
        problems = self.problems(require_ready)
        if problems:
            raise PlanError(problems)
        return self


def _allowed(setting, value: Any) -> bool:
    if value in setting.off and not isinstance(value, bool):
        return True
    try:
        setting.check(value)
        return True
    except ValueError:
        return False


def _build(cls: type, raw: Any, path: str, problems: list[str]) -> Any:
    """Build dataclass `cls` from `raw`, recording type problems and unknown keys with their field path."""
    if not isinstance(raw, dict):
        problems.append(f"{path or '(plan)'}: expected an object, got {type(raw).__name__}")
        return cls()
    hints = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{path}.{key}" if path else key
        if key not in hints:
            problems.append(f"{where}: unknown field")
            continue
        spec = hints[key]
        default = spec.default_factory() if spec.default_factory is not dataclasses.MISSING else spec.default  # type: ignore[misc]
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value, where, problems)
        else:
            kwargs[key] = _coerce(value, default, hints[key].type, where, problems)
    return cls(**kwargs)


def _coerce(value: Any, default: Any, annotation: Any, where: str, problems: list[str]) -> Any:
    ann = str(annotation)
    if value is None:
        if "None" in ann:
            return None
        problems.append(f"{where}: must not be null")
        return default
    if isinstance(default, bool) or ann == "bool":
        if isinstance(value, bool):
            return value
        problems.append(f"{where}: expected true or false, got {value!r}")
        return default
    if ann == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        problems.append(f"{where}: expected an integer, got {value!r}")
        return default
    if ann == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        problems.append(f"{where}: expected a number, got {value!r}")
        return default
    if ann.startswith("list[str] | str"):
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return value
        problems.append(f"{where}: expected a list of names or a string, got {value!r}")
        return default
    if ann.startswith("list[int]"):
        if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return value
        problems.append(f"{where}: expected a list of whole numbers, got {value!r}")
        return default
    if ann.startswith("list"):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        problems.append(f"{where}: expected a list of strings, got {value!r}")
        return default
    if ann.startswith("dict[str, list[float]]"):
        if isinstance(value, dict) and all(isinstance(v, list) and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in v) for v in value.values()):
            return {str(k): [float(x) for x in v] for k, v in value.items()}
        problems.append(f"{where}: expected an object of field → list of numbers, got {value!r}")
        return default
    if ann.startswith("dict"):
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        problems.append(f"{where}: expected an object, got {value!r}")
        return default
    if "str" in ann:
        if isinstance(value, str):
            return value
        problems.append(f"{where}: expected a string, got {value!r}")
        return default
    return value
