"""Run by tests/test_train.py under `accelerate launch --num_processes 2` (DDP on gloo, two CPU processes).

Arguments: a plan's JSON file, the model folder, an output folder. Each process builds the lean trainer as the
worker does, wraps the model in DDP as `train()` does, takes its own shard's first batch and computes loss and
gradients three ways: the lean path through the DDP wrapper, TRL's own path through it, and the lean path on the
bare model (skipping DDP's forward, as the lean path did before it ran inside it). It saves them for the test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from assistant.config import Home
from assistant.data import chat_examples
from assistant.plan import Plan
from assistant.registry import Registry
from assistant.train import worker


def main(plan_file: str, model: str, out: str) -> None:
    rank = int(os.environ["RANK"])
    plan = Plan.from_json(Path(plan_file).read_text())
    work = Path(out) / f"rank{rank}"
    reg = Registry(Home.resolve(work / "home"))
    job_id = reg.submit_job(reg.add_plan(plan.to_json()))
    trainer = worker.build_trainer(plan, model, chat_examples(plan)[:32], [], work / "out", reg, job_id,
                                   print, work / "log.jsonl", {"flag": False})
    assert trainer.accelerator.num_processes == 2, trainer.accelerator.num_processes
    ddp = trainer.accelerator.prepare(trainer.model)
    assert isinstance(ddp, torch.nn.parallel.DistributedDataParallel), type(ddp)
    batch = next(iter(trainer.get_train_dataloader()))
    heads = []
    head_loss = trainer._head_loss
    trainer._head_loss = lambda *a, **k: heads.append(1) or head_loss(*a, **k)

    def run(compute, model, b):
        ddp.zero_grad()
        heads.clear()
        loss = compute(model, dict(b), num_items_in_batch=None)
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in ddp.module.named_parameters() if p.requires_grad}
        return {"loss": loss.detach(), "grads": grads, "lean": len(heads)}

    public = {k: v for k, v in batch.items() if not k.startswith("_")}
    ddp.train()
    results = {"lean": run(trainer.compute_loss, ddp, batch),
               "trl": run(super(type(trainer), trainer).compute_loss, ddp, public),
               "alone": run(trainer.compute_loss, ddp.module, batch),
               "input_ids": batch["input_ids"]}
    torch.save(results, Path(out) / f"rank{rank}.pt")


if __name__ == "__main__":
    main(*sys.argv[1:4])
