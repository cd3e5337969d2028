"""The data doctor: detect a file's format and column mapping, check it, and describe it.

Formats are plugins (`assistant/plugins`); the built-ins are `alpaca` (instruction/input/output), `sharegpt`
(conversations of from/value), `messages` (role/content), `prompt_completion` (prompt/completion) and
`columns` (any table: which columns are the input and which is the output is found from their names, in
English and Chinese, and from their values). Their row functions live here.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import plugins
from .language import data_language
from .load import DataError, read_rows, sha256_file

OUTPUT_NAMES = [
    "label", "labels", "category", "class", "sentiment", "intent", "target", "output", "answer", "response",
    "summary", "translation", "completion", "rewrite", "rewritten", "result", "y", "tag", "topic",
    "标签", "类别", "分类", "情感", "意图", "答案", "回答", "输出", "摘要", "译文", "翻译", "结果", "改写",
]
INPUT_NAMES = [
    "text", "input", "sentence", "review", "content", "question", "document", "article", "source", "prompt",
    "query", "context", "body", "message", "comment", "passage", "x", "src", "headline", "title", "instruction",
    "subject", "description", "details", "email", "ticket", "utterance", "dialogue",
    "文本", "内容", "输入", "问题", "句子", "评论", "原文", "文章", "正文", "评价", "问句", "标题", "主题", "描述",
    "详情",
]
ID_NAMES = {"id", "idx", "index", "uuid", "row", "row_id", "no", "编号", "序号", "ID"}
TOOL_ROLES = {"function_call": "assistant", "observation": "tool", "tool": "tool", "function": "tool",
              "ipython": "tool", "tool_response": "tool"}
"""Tool-calling turns (LLaMA-Factory's sharegpt: function_call, observation): the model's call, the tool's result."""
ROLE_MAP = {**TOOL_ROLES, "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
            "model": "assistant", "bot": "assistant", "system": "system"}


@dataclass
class DataReport:
    path: str
    sha256: str
    format: str
    rows: int
    input_columns: list[str] = field(default_factory=list)
    output_column: str | None = None
    labels: dict[str, int] = field(default_factory=dict)
    """Label → count when the output looks like a label (few distinct short values)."""
    warnings: list[str] = field(default_factory=list)
    chars_median: int = 0
    chars_p95: int = 0
    language: str = "en"
    """`zh` when most examples are Chinese, else `en`."""
    zh_share: float = 0.0
    """Share of the (first 200) examples whose text is mostly Chinese; between 0.2 and 0.8 the data is mixed."""
    preview: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Every usable row as {"prompt": str | messages, "completion": str} (not serialized)."""
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    """Token counts per (model, instruction), so replanning does not re-tokenize."""


def inspect_file(path: str | Path, least: int | None = None, output: str | None = None) -> DataReport:
    """Read and describe a data file. Raises DataError naming the file (and line) when it is unusable, or has
    fewer than `least` usable rows (default `MIN_ROWS`, a fine-tune's least; an eval file may hold one).
    `output`: a table's column the user named as the output (`with_output`)."""
    rows = read_rows(path)
    fmt = detect_format(rows)
    report = DataReport(path=str(path), sha256=sha256_file(path), format=fmt, rows=len(rows),
                        warnings=list(rows.notes))
    mapper = plugins.get().formats[fmt].map_columns
    if output is not None and fmt == "columns":
        report.input_columns, report.output_column = map_columns(str(path), rows, output)
    elif mapper is not None:
        report.input_columns, report.output_column = mapper(str(path), rows)
    examples = to_examples(rows, report)
    _check(path, rows, examples, report, MIN_ROWS if least is None else least)
    report.preview = rows[:5]
    report.examples = [e for e in examples if e["completion"] and prompt_text(e)]
    return report


def column_named(report: DataReport, name: str) -> str | None:
    """The file's column that `name` names (any case, spaces around ignored), or None."""
    columns = [str(c) for c in report.preview[0]] if report.preview else []
    return next((c for c in columns if c.strip().lower() == name.strip().lower()), None)


def with_output(report: DataReport, column: str) -> DataReport:
    """The same file read with `column` (a name the user said, any case) as its output and the other text
    columns as its input (cached in `report.cache`); `report` itself when that is its output already; when the
    file has no such column, or it cannot be the output, `report` with a warning that says so."""
    columns = [str(c) for c in report.preview[0]] if report.preview else []
    match = column_named(report, column)
    if report.format == "columns" and match == report.output_column:
        return report
    key = ("output", column.strip().lower())
    if key not in report.cache:
        try:
            if report.format != "columns":
                raise DataError(report.path, f"its rows are {report.format} examples, not a table's columns: the "
                                             "answer each row trains is its own")
            if match is None:
                raise DataError(report.path, f"it has no column `{column}` (its columns: "
                                             f"{', '.join(f'`{c}`' for c in columns)})")
            report.cache[key] = inspect_file(report.path, output=match)
        except DataError as e:
            why = e.message
            stays = f"; the output stays `{report.output_column}`" if report.output_column else ""
            report.cache[key] = replace(report, warnings=[
                *report.warnings, f"you named `{column}` as the output column, but {why}{stays}"])
    return report.cache[key]


def detect_format(rows: list[dict[str, Any]]) -> str:
    """The name of the first registered format (highest priority first) that recognises these rows."""
    for fmt in plugins.get().format_order():
        try:
            if fmt.detect(rows):
                return fmt.name
        except Exception:  # a plugin's detector that trips on unexpected rows does not recognise them
            continue
    return "columns"


def get_field(row: dict[str, Any], key: str) -> Any:
    for k, v in row.items():
        if k.lower() == key:
            return v
    return None


MISSING = {"nan", "none", "null", "n/a", "na", "<na>", "nil"}
"""Spellings of a missing value that spreadsheets and pandas write into label columns."""
LABEL_NAMES = {"label", "labels", "category", "class", "sentiment", "intent", "tag", "topic",
               "标签", "类别", "分类", "情感", "意图"}
MIN_ROWS, FEW_ROWS = 2, 20


def text(v: Any) -> str:
    """A cell as text: missing is empty, nested objects and lists are JSON (not Python's repr), no NUL."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v).replace("\0", "").strip()


def map_columns(path: str | Path, rows: list[dict[str, Any]], output: str | None = None) -> tuple[list[str], str]:
    """Pick input columns and the output column of a table, from names first, then from values; `output`: the
    column the user named as the output (the inputs are then picked among the others)."""
    columns = list(rows[0].keys())
    textual = [c for c in columns if sum(bool(text(r.get(c))) for r in rows) >= max(1, len(rows) // 2)
               and not _is_id(c, rows) or c == output]
    if not textual:
        raise DataError(path, f"no column holds text (columns: {', '.join(map(str, columns)) or 'none'})")
    for c in columns:
        if str(c).strip().lower() in OUTPUT_NAMES and not any(text(r.get(c)) for r in rows):
            raise DataError(path, f"the output column `{c}` is empty in every row (empty output): there is nothing "
                                  "to learn. Fill it in, or name the output column differently")
        if str(c).strip().lower() in INPUT_NAMES and not any(text(r.get(c)) for r in rows):
            raise DataError(path, f"the input column `{c}` is empty in every row (empty input): the model would have "
                                  "nothing to read. Fill it in, or name the input column differently")

    def by_name(names: list[str], pool: list[str]) -> str | None:
        lowered = {str(c).strip().lower(): c for c in pool}
        for n in names:
            if n in lowered:
                return lowered[n]
        return None

    output = output or by_name(OUTPUT_NAMES, textual)
    if output is None and len(textual) >= 2:
        # A column with few repeating values is a label; otherwise the last column is the output.
        distinct = {c: len({text(r.get(c)) for r in rows}) for c in textual}
        label_like = [c for c in textual if distinct[c] <= max(2, min(50, len(rows) // 4))]
        output = label_like[-1] if label_like else textual[-1]
    inputs = [c for c in textual if c != output]
    named_input = by_name(INPUT_NAMES, inputs)
    if named_input is not None:
        # Every column that holds free text belongs in the prompt (a title and a body, a subject and a message);
        # columns of dates, numbers or a few repeating values (ids, timestamps, categories) do not.
        inputs = [c for c in inputs if str(c).strip().lower() in INPUT_NAMES or _free_text(c, rows)] or [named_input]
    if output is None or not inputs:
        raise DataError(
            path,
            f"no usable text column: need an input column and an output column, found {', '.join(map(str, columns))}. "
            "Name them e.g. `text,label` or `input,output`",
        )
    return inputs, output


def _free_text(column: Any, rows: list[dict[str, Any]]) -> bool:
    """Words people wrote: mostly distinct values, several characters long, not numbers or dates."""
    values = [text(r.get(column)) for r in rows]
    filled = [v for v in values if v]
    if len(filled) < max(1, len(rows) // 2):
        return False
    if sum(bool(re.fullmatch(r"[\d\s.,:/+\-TZ]+", v)) for v in filled) > 0.5 * len(filled):
        return False  # numbers, dates, times
    return len(set(filled)) >= 0.5 * len(filled) and sum(map(len, filled)) / len(filled) >= 8


def _is_id(column: Any, rows: list[dict[str, Any]]) -> bool:
    """An identifier column (named like one, or distinct whole numbers in every row) is never an input."""
    if str(column).strip().lower() in ID_NAMES:
        return True
    values = [r.get(column) for r in rows]
    return len(rows) > 2 and all(isinstance(v, int) or re.fullmatch(r"\d+", text(v)) for v in values) \
        and len(set(map(text, values))) == len(rows)


def to_examples(rows: list[dict[str, Any]], report: DataReport) -> list[dict[str, Any]]:
    """Rows as {"prompt": str | messages, "completion": str} examples, by the report's format."""
    fmt = plugins.get().formats.get(report.format)
    if fmt is None:
        raise DataError(report.path, f"the data format {report.format!r} is registered by no installed plugin "
                                     "(`tailor plugins list` shows what is installed)")
    out = [fmt.to_example(row, report) for row in rows]
    _blank_missing_labels(out)
    return out


def columns_example(row: dict[str, Any], mapping: Any) -> dict[str, Any]:
    """A table row: its input columns (named, when there are several) → its output column."""
    parts = [text(row.get(c)) for c in mapping.input_columns]
    prompt = parts[0] if len(parts) == 1 else "\n".join(f"{c}: {p}" for c, p in zip(mapping.input_columns, parts))
    return {"prompt": prompt, "completion": text(row.get(mapping.output_column))}


def alpaca_example(row: dict[str, Any], mapping: Any = None) -> dict[str, Any]:
    instr, inp = text(get_field(row, "instruction")), text(get_field(row, "input"))
    return {"prompt": f"{instr}\n\n{inp}" if inp else instr, "completion": text(get_field(row, "output"))}


def _blank_missing_labels(examples: list[dict[str, Any]]) -> None:
    """Labels spelled as missing (NaN, None, null, N/A) are no class: such rows get no output, and are marked."""
    outs = Counter(e["completion"] for e in examples if e["completion"])
    missing = {o for o in outs if o.strip().lower() in MISSING}
    real = [o for o in outs if o not in missing]
    if missing and (not real or (all(len(o) <= 40 for o in real) and len(real) <= max(2, min(50, len(examples) // 4)))):
        for e in examples:
            if e["completion"] in missing:
                e["completion"], e["missing_label"] = "", True


def earlier_answers(msgs: list[dict]) -> list[int]:
    """The assistant turns of a conversation's prompt that are trained besides its last answer: each that says
    something and answers a user (a greeting before anyone asked stays context)."""
    asked = False
    out = []
    for i, m in enumerate(msgs):
        asked = asked or m["role"] == "user"
        if m["role"] == "assistant" and asked and str(m["content"] or "").strip():
            out.append(i)
    return out


def split_conversation(turns: list[Any], tools: Any = None) -> dict[str, Any]:
    """A conversation as its last assistant turn (the completion) and the turns before it (the prompt; earlier
    assistant turns in it are trained too: train/turns.py). Tool calls stay the
    assistant's, tool results get the `tool` role, and a `tools` list (JSON) becomes the system message that
    tells the model which functions it may call."""
    msgs, unknown = [], set()
    if tools not in (None, "", [], "[]"):
        listed = tools if isinstance(tools, str) else json.dumps(tools, ensure_ascii=False)
        msgs.append({"role": "system", "content": "You can call these functions; to call one, answer with a JSON "
                                                  f"object naming it and its arguments:\n{listed}"})
    for t in turns:
        if not isinstance(t, dict):
            continue
        said = str(t.get("role", t.get("from", ""))).strip()
        if said.lower() not in ROLE_MAP:
            unknown.add(said or "(none)")
        msgs.append({"role": ROLE_MAP.get(said.lower(), "user"), "content": text(t.get("content", t.get("value")))})
    last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=-1)
    out = ({"prompt": msgs, "completion": ""} if last < 0
           else {"prompt": msgs[:last], "completion": msgs[last]["content"]})
    if earlier := len(earlier_answers(msgs[:max(last, 0)])):
        out["earlier_answers"] = earlier
    if unknown:
        out["unknown_roles"] = unknown
    if 0 <= last < len(msgs) - 1:  # turns after the last answer: nothing answers them, so they are left out
        out["after_answer"] = len(msgs) - 1 - last
    if any(str(t.get("role", t.get("from", ""))).strip().lower() in TOOL_ROLES for t in turns if isinstance(t, dict)):
        out["tool_turns"] = True
    return out


PLACEHOLDER = re.compile(r"\{\{\s*\w+\s*\}\}|\{\s*(?:name|author|user|company|bot|assistant)\s*\}")
"""Template slots left in data meant to be filled (LLaMA-Factory's identity.json: {{name}}, {{author}})."""


def prompt_text(e: dict[str, Any]) -> str:
    p = e["prompt"]
    return p if isinstance(p, str) else " ".join(m["content"] for m in p)


def _check(path: str | Path, rows: list[dict[str, Any]], examples: list[dict[str, Any]], report: DataReport,
           least: int) -> None:

    roles = sorted(set().union(*(e.get("unknown_roles", set()) for e in examples)))
    empty_out = [i for i, e in enumerate(examples, start=1) if not e["completion"]]
    empty_in = [i for i, e in enumerate(examples, start=1) if not prompt_text(e)]
    if roles and len(empty_out) == len(examples):
        raise DataError(path, f"conversation roles {', '.join(map(repr, roles))} are not known, so no turn is the "
                              "assistant's; name the roles user and assistant (or human and gpt)")
    placeholders = Counter(m for e in examples for m in dict.fromkeys(PLACEHOLDER.findall(e["completion"] or "")))
    if placeholders:
        names = ", ".join(f"{p} ({n} rows)" for p, n in placeholders.most_common(3))
        report.warnings.append(f"answers hold template placeholders: {names}; fill them in before training, or the "
                               "model learns to say them literally")
    tools = sum(1 for e in examples if e.get("tool_turns"))
    if tools:
        report.warnings.append(f"{tools} conversations call tools: function calls are trained as the assistant's "
                               "turns, tool results are given in the `tool` role, and each row's `tools` list becomes "
                               "its system message (so the plan's instruction is not added to those rows)")
    if roles:
        report.warnings.append(f"conversation roles {', '.join(map(repr, roles))} are not known and were read as the "
                               "user's turns; rename them to user or assistant if that is wrong")
    if several := [e["earlier_answers"] for e in examples if e.get("earlier_answers") and e["completion"]]:
        report.warnings.append(f"{len(several)} conversations have more than one assistant turn "
                               f"({sum(several) + len(several)} answers): every answer is trained, each with the "
                               "turns before it as its context; "
                               "the held-out evaluation scores each conversation's last answer")
    if after := [i for i, e in enumerate(examples, start=1) if e.get("after_answer")]:
        report.warnings.append(f"{len(after)} conversations go on after their last assistant turn (first: row "
                               f"{after[0]}); the turns after it are left out, since nothing answers them")
    missing = [i for i, e in enumerate(examples, start=1) if e.get("missing_label")]
    if len(empty_out) == len(examples):
        raise DataError(path, "every row has an empty output; there is nothing to learn"
                        + (" (every label is a missing value such as NaN or None)" if missing else ""))
    if missing:
        report.warnings.append(f"{len(missing)} rows have a missing label (NaN, None, null or N/A) and will be skipped "
                               f"(first: row {missing[0]})")
        empty_out = [i for i in empty_out if i not in set(missing)]
    if len(empty_in) == len(examples):
        raise DataError(path, "every row has an empty input")
    if empty_out:
        report.warnings.append(f"{len(empty_out)} rows have an empty output and will be skipped "
                               f"(first: row {empty_out[0]})")
    if empty_in:
        report.warnings.append(f"{len(empty_in)} rows have an empty input and will be skipped "
                               f"(first: row {empty_in[0]})")
    keys = Counter((prompt_text(e), e["completion"]) for e in examples)
    dupes = sum(n - 1 for n in keys.values() if n > 1)
    if dupes:
        report.warnings.append(f"{dupes} duplicate rows")
    lengths = sorted(len(prompt_text(e)) + len(e["completion"]) for e in examples)
    report.chars_median = lengths[len(lengths) // 2]
    report.chars_p95 = lengths[min(len(lengths) - 1, int(len(lengths) * 0.95))]
    texts = [prompt_text(e) + " " + e["completion"] for e in examples[:200]]
    report.language, report.zh_share = data_language(texts)
    outs = Counter(e["completion"] for e in examples if e["completion"])
    short = all(len(o) <= 40 for o in outs)
    if short and len(outs) <= max(2, min(50, len(examples) // 4)):
        report.labels = dict(outs.most_common())
        tiny = [label for label, n in outs.items() if n < 5]
        if tiny:
            report.warnings.append(f"tiny classes (fewer than 5 rows): {', '.join(tiny)}")
        alike: dict[str, list[str]] = {}  # labels one spelling apart are trained, and scored, as different answers
        for label in outs:
            alike.setdefault(" ".join(label.casefold().split()), []).append(label)
        if same := [group for group in alike.values() if len(group) > 1]:
            report.warnings.append("labels that differ only in capitals or spacing are different answers to the model: "
                                   + "; ".join(" / ".join(f"{g!r} ({outs[g]} rows)" for g in group) for group in same)
                                   + ". Write each class one way if they mean the same")
    report.rows = len(examples) - len(set(empty_out) | set(empty_in) | set(missing))
    _check_outputs(path, outs, report, least)
    _check_values(rows, report)


def _check_outputs(path: str | Path, outs: Counter, report: DataReport, least: int) -> None:
    """Too few rows, one class, or a label column whose values are nearly all different."""
    if report.rows < least:
        raise DataError(path, f"only {report.rows} usable row: too few to learn from. A fine-tune needs a few dozen "
                              "examples at least, and hundreds are better" if least > 1 else
                              "no usable row: every row needs a prompt and an answer to score against")
    if report.rows < FEW_ROWS:
        report.warnings.append(f"only {report.rows} usable rows: the adapter will mostly memorise them; a few dozen "
                               "examples is the least that works, hundreds are better")
    if len(outs) == 1:
        report.warnings.append(f"every row has the same output ({next(iter(outs))[:40]!r}): the model would learn to "
                               "always answer it. Add rows with the other answers (for classification, every class)")
    named = str(report.output_column or "").strip().lower() in LABEL_NAMES
    if named and not report.labels and len(outs) > 0.5 * report.rows and report.rows >= FEW_ROWS:
        report.warnings.append(f"the output column `{report.output_column}` has {len(outs):,} different values in "
                               f"{report.rows:,} rows: these are not classes. If this is classification, check that "
                               "column; else name it for what it holds (e.g. `output`)")


def _check_values(rows: list[dict[str, Any]], report: DataReport) -> None:
    """Cells that are nested objects or lists (used as JSON text), and NUL characters (removed)."""
    columns = report.format == "columns"
    named = {"alpaca": ["instruction", "input", "output"], "prompt_completion": ["prompt", "completion"]}
    used = [*report.input_columns, report.output_column] if columns else named.get(report.format, [])
    nested = Counter(c for r in rows for c in used
                     if isinstance(r.get(c) if columns else get_field(r, str(c).lower()), (dict, list)))
    if nested:
        report.warnings.append("nested objects or lists in " + ", ".join(f"`{c}` ({n} rows)" for c, n in nested.items())
                               + ": they are given to the model as JSON text; flatten them if that is not what you "
                                 "want")
    nul = sum(1 for r in rows for v in r.values() if isinstance(v, str) and "\0" in v)
    if nul:
        report.warnings.append(f"{nul} values held NUL characters, which were removed")
