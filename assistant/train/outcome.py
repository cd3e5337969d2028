"""What the assistant says in the chat when the run it started ends: the adapter and its held-out scores beside
the baselines, and — when it is not clearly better than always answering the most frequent label — plainly so,
with what to try next. For a sweep, the winner once every trial has ended."""

from __future__ import annotations

from ..registry.db import Registry

ENDED = ("succeeded", "failed", "cancelled")


def outcome(registry: Registry, job_id: int, lang: str = "en") -> str | None:
    """The chat's message about job `job_id` (or the sweep it is a trial of) once it has ended; None before."""
    job = registry.job(job_id)
    if job is None:
        return None
    zh = lang == "zh"
    if job.sweep_id:
        row = registry.sweep(job.sweep_id)
        if row is None or row["status"] not in ENDED:
            return None
        if not row["adapter_id"]:
            return (f"参数搜索 {job.sweep_id} 已{_zh_status(row['status'])}，没有完成的试验可登记。" if zh else
                    f"Sweep {job.sweep_id} {row['status']} with no finished trial to register.")
        winner = registry.job(row["winner_job_id"])
        head = (f"参数搜索 {job.sweep_id} 结束：第 {winner.trial} 组试验胜出（按留出集 {row['metric']}）。" if zh else
                f"Sweep {job.sweep_id} ended: trial {winner.trial} won on held-out {row['metric']}.")
        return head + " " + _adapter(registry, row["adapter_id"], zh)
    if job.status not in ENDED:
        return None
    if job.status == "failed":
        return f"任务 {job.id} 失败：{job.error}" if zh else f"Job {job.id} failed: {job.error}"
    if job.status == "cancelled" or not job.adapter_id:
        return (f"任务 {job.id} 已取消，没有登记适配器。" if zh else
                f"Job {job.id} was cancelled; nothing was registered.")
    return (f"任务 {job.id} 完成。" if zh else f"Job {job.id} finished.") + " " + _adapter(registry, job.adapter_id, zh)


def _zh_status(status: str) -> str:
    return {"succeeded": "完成", "failed": "失败", "cancelled": "取消"}.get(status, status)


def _adapter(registry: Registry, adapter_id: int, zh: bool) -> str:
    from .held_out import BELOW_BASELINE

    rec = registry.adapter_by_id(adapter_id)
    m = rec.metrics
    scored = [k for k, v in m.items() if f"baseline_{k}" in m and isinstance(v, (int, float))]
    label = m.get("baseline_label")
    if zh:
        text = f"适配器 **{rec.label}** 已登记。"
        if scored:
            text += "留出集上：" + "，".join(
                f"{k} {m[k]:.2f}（总答“{label}”：{m[f'baseline_{k}']:.2f}）" for k in scored) + "。"
        elif "eval_loss" in m:
            text += f"留出集损失 {m['eval_loss']:.3f}。"
    else:
        text = f"Adapter **{rec.label}** is in the registry."
        if scored:
            text += " On the held-out rows: " + ", ".join(
                f"{k} {m[k]:.2f} (always answering “{label}”: {m[f'baseline_{k}']:.2f})" for k in scored) + "."
        elif "eval_loss" in m:
            text += f" Held-out loss {m['eval_loss']:.3f}."
    if seen := m.get("held_out_seen"):  # rows the data repeats, on both sides of the split
        text += (f"\n\n⚠️ 留出集中有 {seen} 行（共 {m.get('held_out_scored', '?')} 行）的输入在训练数据里也有"
                 "（数据有重复），所以这些分数偏高；去掉重复行再训练，才能得到公允的分数。" if zh else
                 f"\n\n⚠️ {seen} of the {m.get('held_out_scored', '?')} held-out rows ask what a training row asks "
                 "(your data repeats them), so these scores flatter the adapter; remove the repeats and train again "
                 "for a fair score.")
    if BELOW_BASELINE not in rec.tags:
        return text
    if zh:
        return text + (f"\n\n⚠️ 这个适配器并不比总是回答“{label}”更好。可以试试：训练更多轮（说“训练 5 轮”）、"
                       "更多或更均衡的数据，或者更大的基础模型（说“换成 Qwen2.5-1.5B-Instruct”）。")
    return text + (f"\n\n⚠️ This adapter is not clearly better than always answering “{label}”. Try more epochs (say "
                   "“train 5 epochs”), more (or more balanced) data, or a larger base model (say “switch to "
                   "Qwen2.5-1.5B-Instruct”).")
