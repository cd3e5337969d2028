"""The plan as a readable card: each choice with its one-line reason."""

from __future__ import annotations

from ..plan import Plan

LABELS = {
    "en": {"task": "Task", "data": "Data", "model": "Base model", "method": "Method", "lora": "LoRA",
           "train": "Training", "eval": "Evaluation", "memory": "Memory", "time": "Time", "sweep": "Sweep"},
    "zh": {"task": "任务", "data": "数据", "model": "基础模型", "method": "方法", "lora": "LoRA",
           "train": "训练", "eval": "评估", "memory": "显存/内存", "time": "时间", "sweep": "参数搜索"},
}


def render_card(plan: Plan, lang: str = "en") -> str:
    """Markdown: one row per choice, value and reason (in Chinese for `zh`)."""
    zh = lang == "zh"
    L = LABELS["zh" if zh else "en"]
    r, d, t, lo, res = plan.reasons, plan.data, plan.training, plan.lora, plan.resources
    if zh:
        from .reasons_zh import to_zh

        r = {k: to_zh(v) for k, v in r.items()}
    mapping = f" ({', '.join(d.input_columns)} → {d.output_column})" if d.format == "columns" else ""
    data = "—" if not d.path else f"{d.rows} 行，{d.format}{mapping}" if zh else f"{d.rows} rows, {d.format}{mapping}"
    split = ("；" if zh else "; ") + r["data.validation_fraction"] if "data.validation_fraction" in r else ""
    targets = lo.target_modules if isinstance(lo.target_modules, str) else ", ".join(lo.target_modules)
    training = (f"{t.epochs:g} 轮，学习率 {t.learning_rate:g}，批大小 {t.batch_size}×{t.gradient_accumulation}，"
                f"最大长度 {t.max_length}，{t.precision}" + ("，重算激活" if t.gradient_checkpointing else "")
                if zh else
                f"{t.epochs:g} epochs, lr {t.learning_rate:g}, batch {t.batch_size}×{t.gradient_accumulation}, "
                f"max length {t.max_length}, {t.precision}" + (", checkpointing" if t.gradient_checkpointing else ""))
    defaults = type(t)()  # the schedule and seed are shown when they are not the usual ones
    if t.scheduler != defaults.scheduler:
        training += f"，{t.scheduler} 学习率调度" if zh else f", {t.scheduler} schedule"
    if t.warmup_ratio != defaults.warmup_ratio:
        training += f"，预热 {t.warmup_ratio:.3g}" if zh else f", warm-up {t.warmup_ratio:.3g}"
    if t.seed != defaults.seed:
        training += f"，随机种子 {t.seed}" if zh else f", seed {t.seed}"
    on = f" {'在' if zh else 'on'} {res.gpu_name or res.device.upper()}"
    rows = [
        (L["task"], f"{plan.task.type or '?'} ({plan.task.language})", r.get("task.type", "")),
        (L["data"], data, r.get("data.format", "") + split),
        (L["model"], f"{plan.base_model.name} ({plan.base_model.params_b:g}B)", r.get("base_model", "")),
        (L["method"], lo.method.upper(), r.get("lora.method", "")),
        (L["lora"], f"r={lo.r}, alpha={lo.alpha}, dropout={lo.dropout}, {targets}", r.get("lora.r", "")),
        (L["train"], training,
         ("；" if zh else "; ").join(x for x in (r.get("training.epochs", ""), r.get("training.max_length", "")) if x)),
        (L["eval"], ", ".join(plan.evaluation.metrics) or "—", r.get("evaluation.metrics", "")),
        (L["memory"], f"~{res.estimated_peak_gb:.1f} GB{on}" + ("" if res.fits else (" — 放不下" if zh else
                                                                                     " — does NOT fit")),
         r.get("resources.estimated_peak_gb", "")),
        (L["time"], f"~{max(res.estimated_minutes, 0.1):.1f} {'分钟' if zh else 'min'}",
         ("；" if zh else "; ").join(
             x for x in (r.get("resources.device", ""), r.get("resources.estimated_minutes", "")) if x)),
    ]
    if plan.sweep.on:
        sw = plan.sweep
        value = (f"{to_zh(sw.describe())}，按留出集 {sw.metric}" + ("，逐次减半" if sw.halving else "")
                 + f"；共约 {sw.estimated_minutes:.1f} 分钟，最大一组约 {sw.estimated_peak_gb:.1f} GB" if zh else
                 f"{sw.describe()}, by held-out {sw.metric}" + (", halving" if sw.halving else "")
                 + f"; ~{sw.estimated_minutes:.1f} min in all, largest trial ~{sw.estimated_peak_gb:.1f} GB")
        rows.append((L["sweep"], value, ("；" if zh else "; ").join(
            x for x in (r.get("sweep", ""), r.get("sweep.estimated_minutes", "")) if x)))
    head = (f"**{'计划' if zh else 'Plan'}: {plan.name or 'untitled'}**\n\n| | | {'理由' if zh else 'why'} |\n"
            "|---|---|---|\n")
    return head + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
