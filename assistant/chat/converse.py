"""The conversation: user turns (+ an attached file) → slots → a complete, justified Plan and a reply.

Stateless by design: the whole conversation is replayed on each turn, applying turns in order so the later
word wins. The reply says what the last turn changed, and why anything else had to change with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .. import plugins
from ..adjustable import SETTINGS, get_path
from ..data import DataReport, column_named, inspect_file, with_output
from ..edits import as_edit, turn_words
from ..models.estimate import CPU, Hardware
from ..plan import Plan
from ..sweeps import SWEEPABLE, trial_settings
from .about import COSTS, GPU_KEYS, KEEP_SAID, answers, numeric_settings
from .column_words import AlsoColumn, MaybeColumn, also_read
from .corrected import misread
from .features import feature_note
from .model_words import ModelStep
from .planner import build_plan
from .relative import (
    Added,
    Between,
    Bound,
    EffectiveBatch,
    HeldRows,
    Judged,
    Relative,
    RowShare,
    TimesRank,
    WarmupSteps,
    resolved,
)
from .slots import Slots
from .sweep_plan import sweep_note
from .take_back import ALL_CHOICES, LIFTED, MEMORY_LIMIT
from .token_counts import token_lengths, training_messages
from .traditional import examples_text, traditional, writes_traditional
from .turn import Question, Turn
from .understand import Intents, allowed, understand
from .unheard import in_language, unheard
from .whole_turn import BOTH, ONWARD_FACTOR, listed


def task_suggestions(lang: str) -> list[str]:
    """The quick answers to "what should the model do?": each registered task's suggestion, in that language."""
    return [t.suggestion.get(lang) or t.suggestion["en"] for t in plugins.get().tasks.values() if t.suggestion]


RESOLVED = (Relative, Added, TimesRank, WarmupSteps, EffectiveBatch, ModelStep, RowShare, HeldRows, Bound,
            Judged, Between)
"""Values said relative to the plan, resolved against the plan before the turn."""
WATCHED = ("task.type", "task.language", "data.max_rows", "data.validation_fraction", "data.input_columns",
           "base_model.name", "resources.device",
           "resources.gpu_memory_gb", "training.max_steps",
           "lora.method", "lora.r", "lora.alpha", "training.epochs", "training.learning_rate",
           "training.max_length", "training.batch_size", "training.gradient_accumulation",
           "training.packing", "training.gradient_checkpointing", "training.precision", "resources.fits",
           "lora.dropout", "training.warmup_ratio", "training.scheduler", "training.seed",
           "training.early_stopping_patience", "training.eval_steps", "evaluation.metrics")



def converse(messages: list[str | dict], data_path: str | None = None, hardware: Hardware = CPU,
             default_base_model: str | None = None, report: DataReport | None = None, *,
             home_models: Path | None = None, understander: Callable[[str], Intents] | None = None) -> Turn:
    """Plan from the whole conversation. `hardware` is the detected (or given) GPU, or the CPU.

    A turn is a message in words, read by `understander` (default: the offline rules), or a typed edit from
    the plan editor (`{"edit": {"r": 8}}`, see `edits.Edit`). Raises DataError when the file is unusable.
    """
    understander = understander or understand
    if data_path and report is None:
        report = inspect_file(data_path)
    intents = [Intents(edit.values) if (edit := as_edit(m)) is not None else understander(m) for m in messages]
    said_relatively: list[str] = []
    last: list[str] = []  # the numeric settings the latest turn that set any set
    switched: list[str] = []  # the yes/no settings (and LoRA or QLoRA) the latest turn that set any set
    undone: set[int] = set()  # turns taken back by an "undo", and the undos themselves
    last_scaling: Relative | None = None  # the latest relative change ("halve it": 0.5)
    last_model: int | None = None  # the latest turn's step of the model, when it was one ("a smaller model": -1)
    swept: list[str] = []  # the fields the latest turn that tried values (or searched) tried
    for i, it in enumerate(intents):  # "halve the learning rate", "warm up for 100 steps": of the plan before the turn
        zh = language_of([messages[i]]) == "zh"
        said_now = set(it.values)  # "no, I meant alpha 32": alpha stays what it says
        for _ in range(int(it.undo)):  # "undo both": the two changes before
            _take_back(i, messages, intents, undone, zh, said_now)
        words = messages[i].lower() if isinstance(messages[i], str) else ""
        if it.adopt and i and i - 1 not in undone:  # "would rank 8 be faster?", then "ok, do that then"
            it.values.update({k: v for k, v in intents[i - 1].named.items()  # not the question's "faster"
                              if k in SETTINGS and k not in ("language", "preference")})
        if it.asked and re.search(KEEP_SAID, words) and (kept := [n for n, s in SETTINGS.items() if s.field in it.asked
                                                                   and any(n in t.values for t in intents[:i])]):
            it.forget, it.asked, it.notes = kept, [], []  # "actually leave the learning rate alone" after "lr 5e-5"
        if it.corrects:  # "rank 8", then "no, I said 8 epochs, not rank 8": the misread rank back as it was
            it.forget += [n for n in misread([t for j, t in enumerate(intents[:i]) if j not in undone], it.corrects)
                          if n not in it.values and n not in it.forget]
            _back_before(i, messages, intents, it)
        if it.forget and not it.undo and it.forget != ALL_CHOICES and words and not re.search(PLANNERS, words):
            _back_before(i, messages, intents, it)  # "put the rank back": what it was before its latest change
        for name in ("output_column", "input_column", "exclude_column"):
            if isinstance(said := it.values.get(name), MaybeColumn):  # a column only when the file has it
                if match := report is not None and column_named(report, said):
                    it.values[name] = match
                if match and isinstance(said, AlsoColumn):  # "use the body too": with the columns read so far
                    match = also_read(match, [t for j, t in enumerate(intents[:i]) if j not in undone], it, zh)
                    it.values[name] = match
                if not match:
                    del it.values[name]
        # "actually make that 8": the one setting the last turn set
        if it.that is not None and (name := _one_of(last, zh, it.notes, f"{it.that:g}")):
            setting = SETTINGS[name]
            scaled = it.that * setting.scale if it.that > 1 else it.that  # "hold out 10%" then "make that 20"
            if (value := allowed(setting, scaled, it.notes, zh)) is not None:
                it.values[setting.name] = value
        if (not it.sweep and not it.values.keys() - {"language"} and len(swept) == 1 and isinstance(messages[i], str)
                and len(values := listed(messages[i].lower())) > 1):  # "try ranks 8, 16 and 32", then "actually only
            it.sweep = {"values": {swept[0]: values}}  # 8 and 32": the sweep's values
        if it.again and not it.values.keys() - {"language"} and last_model:  # "a smaller one still", "再小一点"
            it.values["base_model"] = ModelStep(1 if it.again > 1 else -1 if it.again > 0 else last_model, None)
        elif it.again and not it.values.keys() - {"language"}:  # "halve it again": what the last relative turn
            targets = said_relatively or (last if len(last) > 1 and re.search(BOTH, messages[i].lower()) else
                                          [n for n in [_one_of(last, zh, it.notes)] if n])  # changed, or what it set
            scaling = (Relative(it.again, it.stepped) if it.again > 0 else last_scaling if it.again != ONWARD_FACTOR
                       else Relative(last_scaling.factor if said_relatively and last_scaling else 2.0, True))
            # "and again": the last scaling; "a bit more" after "lower the lr": lower again
            it.values.update({name: scaling for name in targets} if scaling else {})
        if it.back:  # "put both back to what you had": what the previous turn set, given back to the planner
            it.forget = [k for k in (intents[i - 1].values if i else {}) if k in ALL_CHOICES]
            if not it.forget:
                it.notes.append("计划保留现在的选择；要把某一项交还给 Tailor，请说出它（例如“秩你来定”）" if zh else
                                "the plan keeps its choices; to give one back to Tailor, name it (“you pick the rank”)")
        if it.added and not it.values.keys() - {"language"} and (name := _one_of(last, zh, it.notes)):
            it.values[name] = Added(it.added)  # "one more": of what the last turn set
        if it.switch is not None and len(switched) == 1:  # "turn it off": the one thing the last turn switched
            it.values[switched[0]] = it.switch if switched[0] == "checkpointing" else "qlora" if it.switch else "lora"
        elif it.switch is not None:
            it.notes.append(("请说明要关掉什么（例如“关闭梯度检查点”或“不用 QLoRA”）" if zh else "say what to turn off "
                             "(e.g. “turn off gradient checkpointing”, “no QLoRA”)") if not it.switch else
                            "请说明要打开什么（例如“开启梯度检查点”或“用 QLoRA”）" if zh else
                            "say what to turn on (e.g. “turn on gradient checkpointing”, “use QLoRA”)")
        if now_switched := [k for k in ("checkpointing", "method") if k in it.values]:
            switched = now_switched
        if relative := {k: v for k, v in it.values.items() if isinstance(v, RESOLVED)}:
            said_relatively = [k for k, v in relative.items() if isinstance(v, Relative)]
            last_model = r.direction if isinstance(r := relative.get("base_model"), ModelStep) else None
            last_scaling = next((v for v in relative.values() if isinstance(v, Relative)), last_scaling)
            rest = Intents({k: v for k, v in it.values.items() if k not in relative}, sweep=it.sweep)
            now = _slots(messages[:i + 1], [*intents[:i], rest])  # with the turn's other settings ("… and train for
            prior = build_plan(now, report, hardware, default_base_model, home_models)  # 300 steps")
            seen = None  # the plan before the turn, built once if a value needs it
            for name, r in sorted(relative.items(), key=lambda kv: isinstance(kv[1], EffectiveBatch)):
                if isinstance(r, EffectiveBatch) and not r.rows:  # the effective batch before the turn, kept
                    seen = seen or build_plan(_slots(messages[:i], intents[:i]), report, hardware, default_base_model,
                                              home_models)
                    was = seen.training
                    batch = it.values.get("batch_size")
                    r = EffectiveBatch(was.batch_size * was.gradient_accumulation, batch if isinstance(batch, int)
                                       else prior.training.batch_size)
                if isinstance(r, ModelStep):  # "a bigger model": the next size up from the plan's
                    it.values[name] = r.of(prior, now.licence)  # "a smaller one", among the licences asked for
                    it.notes += [r.words(prior, it.values[name], zh)] if r.step == 4 and it.values[name] else []
                    if it.values[name] is None:
                        del it.values[name]
                        bigger = r.step > 0
                        it.notes.append(f"目录里没有{'更大' if bigger else '更小'}的模型可换" if zh else
                                        f"the catalog has no {'bigger' if bigger else 'smaller'} model to switch to")
                    continue
                if isinstance(r, (RowShare, HeldRows)) and not prior.data.rows:  # "half of the data", no data yet
                    del it.values[name]
                    it.notes.append("按数据的比例或行数设置，需要先上传数据" if zh else
                                    "a share or a number of the data's rows needs the data: attach it first")
                    continue
                setting, base = SETTINGS[name], prior
                if isinstance(r, (Relative, Judged)) and it.values.keys() - relative.keys() - {"language"}:
                    base = seen = seen or build_plan(_slots(messages[:i], intents[:i]), report, hardware,
                                                     default_base_model, home_models)  # "秩调到 64，学习率降一半": half
                value = resolved(r, base, setting)  # of the rate the person saw, not of the one rank 64 would get
                shown = r.words(prior, zh) if isinstance(r, (WarmupSteps, HeldRows)) else None
                if (value := allowed(setting, value, it.notes, zh, shown)) is None:
                    del it.values[name]
                else:
                    it.values[name] = value
        if numeric := [k for k, v in it.values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]:
            said_relatively = said_relatively if relative else []  # after "lr 1e-4", "double it" is the lr
            last, last_model, swept = numeric, last_model if relative else None, []
        elif asked := numeric_settings(it.asked):
            last, said_relatively, last_model = asked, [], None  # "what rank would you use?", then "ok, 32 then"
        elif tried := [*it.sweep.get("values", {}), *it.sweep.get("search", [])]:
            last, said_relatively = [SWEEPABLE[p][0] for p in tried if SWEEPABLE[p][0]], []  # "try ranks 8 and 16",
            # then "never mind the sweep, just use 8": the rank
            swept = tried
    before, now = _slots(messages[:-1], intents[:-1]), _slots(messages, intents)
    plan = build_plan(now, report, hardware, default_base_model, home_models)
    changes = (_diff(build_plan(before, report, hardware, default_base_model, home_models), plan, intents[-1])
               if len(messages) > 1 else [])
    if report is not None and now.output_column:  # the file as the plan reads it: the output the user named
        report = with_output(report, now.output_column)
    missing = []
    if plan.task.type is None:
        missing.append("task")
    if report is None:
        missing.append("data")
    ready = not missing and not plan.problems(require_ready=True)
    wrote = [m for m in messages if isinstance(m, str) and re.search(r"[A-Za-z\u4e00-\u9fff]", m)]
    lang = language_of(wrote) if wrote else now.language or (report.language if report else None) or "en"
    questions = _questions(missing, lang, plan)
    lengths, examples = [], []
    if report is not None:  # the same tokenizer and template the plan's max_length was measured with
        lengths, mt = token_lengths(plan, report, home_models)
        examples = [mt.render(training_messages(plan.task.instruction, e)) for e in report.examples[:2]]
    notes = in_language(list(intents[-1].notes), lang == "zh") if intents else []
    notes = [n for n in notes if n != "fit"]
    if intents and (note := sweep_note(plan, intents[-1].sweep, lang == "zh")):
        notes.append(note)  # "with 6 trials" after "try ranks 8, 16 and 32"; "pick by f1" with no sweep
    if intents and intents[-1].asked:  # "why rank 16?": the plan's reasons, in the user's language; "能导出成 GGUF
        # 吗？": where Tailor does that
        feature = feature_note(turn_words(messages[-1]).lower(), lang == "zh")  # "训练完怎么用这个模型？": where,
        named, there, other = intents[-1].named, None, {}
        if named.get("gpu_memory_gb") not in (None, plan.resources.gpu_memory_gb):  # "will it fit on a T4?": the
            other = {k: named.get(k, "") for k in GPU_KEYS}
        elif COSTS & set(intents[-1].asked):  # "how much memory will rank 64 need?": the plan with rank 64
            other = {k: v for k, v in named.items() if k in SETTINGS and k not in GPU_KEYS and not hasattr(v, "of")}
        if other:
            there = build_plan(Slots({**now.said, **other}, now.description, now.sweep, now.wrote), report, hardware,
                               default_base_model, home_models)
        notes += ([feature] if feature else []) + ([] if feature and intents[-1].asked == ["?"] else  # plan for it
                                                  answers(plan, intents[-1].asked, lang == "zh", named, there))
    if (model_reason := plan.reasons.get("base_model", "")).startswith("⚠️"):  # a named model was replaced: said
        if lang == "zh":
            from .reasons_zh import to_zh

            model_reason = to_zh(model_reason)
        notes.append(model_reason.removeprefix("⚠️ "))
    if len(messages) > 1 and (nothing := unheard(messages[-1], intents[-1], changes, lang, plan)):
        notes.append(nothing)
    reply = _reply(plan, questions, changes, now, lang, ready, examples, notes)
    if lang == "zh" and writes_traditional([examples_text(report.examples) if report else "", *wrote]):
        # answered in the characters the person writes (or their data's, before any words); the data's
        keep = [*plan.data.input_columns, plan.data.output_column, *plan.task.labels, Path(plan.data.path or "").name,
                plan.task.description[:80], *wrote]  # columns and labels, the file and the user's words as written
        reply, notes, changes = traditional(reply, keep), [traditional(n, keep) for n in notes], \
            [traditional(c, keep) for c in changes]
        questions = [Question(q.slot, traditional(q.text), [traditional(x) for x in q.suggestions]) for q in questions]
    return Turn(ready, missing, reply, plan, questions, changes, report, examples, notes, list(lengths))


def _one_of(last: list[str], zh: bool, notes: list[str], value: str = "") -> str | None:
    """The one setting the previous turn set, which a follow-up ("make that 8", "double it", "one more") is about;
    None when it set none, or several (a note then asks which one)."""
    if len(last) == 1:
        return last[0]
    if not last:  # "set it to 64" before any number was set
        notes.append((f"前面没有改过数值：请说明 {value} 是哪一项的（例如“秩 {value}”）" if value else
                      "前面没有改过数值：请说明要改哪一项") if zh else
                     (f"no earlier turn set a number: say which setting {value} is for (e.g. “rank {value}”)"
                      if value else "no earlier turn set a number: say which setting to change"))
    else:
        names = ("、" if zh else ", ").join(SETTINGS[k].said("…", "zh" if zh else "en") for k in last)
        notes.append((f"上一轮改了好几项（{names}），请说明 {value} 是哪一项的" if value else
                      f"上一轮改了好几项（{names}），请说明要改哪一项") if zh else
                     f"the last change set several things ({names}): say which one " +
                     (f"{value} is for" if value else "to change"))
    return None


PLANNERS = (r"default|recommend|original|\byour?\b|\breset\b|start\s+over|scratch|默认|推荐|你|最初|一开始|最开始|"
            r"开始的|重置")
"""A setting given back to the planner's own choice ("the default rank", "you pick", "按你最开始的"), not to what it
was before its latest change."""


def _back_before(i: int, messages: list, intents: list[Intents], it: Intents) -> None:
    """"Put the rank back" after rank 32, then rank 64: 32, what each setting `it.forget` names was before the latest
    turn that set it, as "undo" would give (the planner's choice when nothing was said before; a limit taken off,
    "use all the data", stays off; "use the whole card" is the card's memory as said before the limit)."""
    for name in [n for n in it.forget if n not in LIFTED or n == "gpu_memory_gb"]:
        j = next((j for j in range(i - 1, -1, -1) if name in intents[j].values), None)
        if name == "gpu_memory_gb" and (j is None or not re.search(MEMORY_LIMIT, turn_words(messages[j]).lower())):
            it.forget.remove(name)  # "I have a 16GB card", then "use the whole card": it already does
            it.notes.append("计划已经按整张卡的显存来定" if language_of([messages[i]]) == "zh" else
                            "the plan already uses the whole card's memory")
            continue
        if j is not None and name in (before := _slots(messages[:j], intents[:j])).said:
            it.values[name] = before.said[name]
            it.forget.remove(name)


def _take_back(i: int, messages: list, intents: list[Intents], undone: set[int], zh: bool,
               said_now: set[str] = frozenset()) -> None:
    """"Undo that" at turn `i`: the latest turn before it that set anything (not already taken back) is taken
    back, each setting it set (or reset) given the value it had before that turn, or the planner's choice."""
    it = intents[i]
    undone.add(i)
    j = next((j for j in range(i - 1, -1, -1) if j not in undone and
              (intents[j].values.keys() - {"language", "task_type"} or intents[j].forget or intents[j].sweep)), None)
    if j is None:  # ("I meant alpha 32" as a first message sets alpha: nothing to say)
        it.notes += [] if said_now - {"language", "task_type"} else [
            "没有可以撤销的修改" if zh else "there is no change to undo"]
        return
    undone.add(j)
    before = _slots(messages[:j], intents[:j])
    for name in [*(intents[j].values.keys() - {"language", "task_type"} - said_now), *intents[j].forget]:
        if name in before.said:
            it.values[name] = before.said[name]
        elif name not in it.forget:
            it.values.pop(name, None)  # "undo both": what the later one gave back, now the planner's again
            it.forget.append(name)
    if intents[j].sweep or intents[j].forget == ALL_CHOICES:  # the sweep as it was before that turn
        it.sweep = {"replace": before.sweep}


def language_of(messages: list[str | dict]) -> str:
    """The user's language: "zh" when any of their words (not typed edits) are Chinese, else "en"."""
    return "zh" if any(isinstance(m, str) and re.search(r"[\u4e00-\u9fff]", m) for m in messages) else "en"


def _slots(messages: list[str | dict], intents: list[Intents]) -> Slots:
    s = Slots()
    for m, it in zip(messages, intents):
        s.apply(it, turn_words(m), typed=as_edit(m) is not None)
    return s



def _diff(old: Plan, new: Plan, said: Intents) -> list[str]:
    """What the last turn changed: first what it asked for, then each knock-on change with its reason."""
    direct_paths = {p for k in [*said.said(), *said.forget, *said.dropped] for p in SETTINGS[k].sets}
    asked, knock_on = [], []
    for path in WATCHED:
        a, b = get_path(old, path), get_path(new, path)
        if a == b:
            continue
        a, b = (", ".join(v) if isinstance(v, list) else v for v in (a, b))  # "accuracy, f1 → accuracy, f1, bleu"
        if path in direct_paths:
            asked.append(f"{path}: {a} → {b}")
        else:
            knock_on.append(f"{path}: {a} → {b} (because {_knock_on_reason(path, new)})")
    if (old.sweep.on, old.sweep.describe(), old.sweep.metric, old.sweep.halving) != (
            new.sweep.on, new.sweep.describe(), new.sweep.metric, new.sweep.halving):
        s = new.sweep
        asked.append(f"sweep: {s.describe()}, the best held-out {s.metric} wins"
                     + (", trials falling behind are stopped" if s.halving else "")
                     + f"; about {s.estimated_minutes:.0f} min in all" if s.on else "sweep: off — one run")
    return asked + knock_on


def _knock_on_reason(path: str, plan: Plan) -> str:
    r = plan.reasons
    if path == "lora.alpha":
        return "alpha stays 2 × rank, so the update's scale is unchanged"
    if path in ("training.gradient_accumulation", "training.batch_size"):
        return r.get("training.batch_size", "the batch was resized to fit the memory")
    if path == "training.gradient_checkpointing":
        return r.get(path, "the plan fits without recomputing activations") if get_path(plan, path) else \
            "the plan now fits without recomputing activations, which is faster"
    if path == "base_model.name":
        return r.get("base_model", "")
    if path == "resources.fits":
        res = plan.resources
        return f"the memory estimate is now {res.estimated_peak_gb:.1f} GB of {res.gpu_memory_gb:g} GB"
    return r.get(path, "it follows from the change above")


def _questions(missing: list[str], lang: str, plan: Plan) -> list[Question]:
    zh = lang == "zh"
    if "task" in missing:
        return [Question("task", "你希望模型做什么？" if zh else "What should the model do?",
                         task_suggestions("zh" if zh else "en"))]
    if "data" in missing:
        return [Question("data", "请附上训练数据（CSV、TSV、JSON、JSONL、Parquet、Excel，或每类一个 .txt 文件）。"
                         if zh else
                         "Please attach your training data (CSV, TSV, JSON, JSONL, Parquet, Excel, or one .txt file "
                         "per class).", [])]
    return []


def _reply(plan: Plan, questions: list[Question], changes: list[str], s: Slots, lang: str, ready: bool,
           examples: list[str], notes: list[str]) -> str:
    from .card import render_card

    zh = lang == "zh"
    parts = [f"*{n}*" for n in notes]
    if changes and zh:
        from .reasons_zh import to_zh

        changes = [to_zh(c) for c in changes]
    if changes:
        parts.append(("已更新：\n" if zh else "Changed:\n") + "\n".join(f"- {c}" for c in changes))
    if questions:
        parts.append(questions[0].text)
        return "\n\n".join(parts)
    parts.append(render_card(plan, lang))
    if plan.data.warnings:
        from .warnings_zh import warning_zh

        shown = [warning_zh(w) for w in plan.data.warnings] if zh else plan.data.warnings
        parts.append(("数据提示：\n" if zh else "About your data:\n") + "\n".join(f"- {w}" for w in shown))
    if examples:
        head = ("训练时模型看到的样例（已套用对话模板）：" if zh
                else "What the model is trained on (first example, through its chat template):")
        parts.append(f"{head}\n\n```\n{examples[0]}\n```")
    if not plan.resources.fits:
        parts.append(f"This plan needs about {plan.resources.estimated_peak_gb:.1f} GB but your GPU has "
                     f"{plan.resources.gpu_memory_gb:g} GB. Try a smaller model or QLoRA.")
    elif ready and plan.sweep.on:
        n = len(trial_settings(plan.sweep))
        minutes = plan.sweep.estimated_minutes
        parts.append(f"准备就绪：点击“开始训练”运行 {n} 组试验（约 {minutes:.0f} 分钟）。" if zh else
                     f"Ready: press **Start training** to run the {n} trials (about {minutes:.0f} min in all), or "
                     "tell me what to change.")
    elif ready:
        parts.append("准备就绪：点击“开始训练”。" if zh
                     else "Ready: press **Start training**, or tell me what to change.")
    return "\n\n".join(parts)
