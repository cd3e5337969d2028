"""Real training on the CPU with a tiny model built in code: the recipe, the worker and the job queue."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from assistant.config import Home
from assistant.registry import Registry
from assistant.train import jobs, recipe, worker
from helpers import LABELS, make_plan, mark, sleeper, wait_for

pytestmark = pytest.mark.slow


def test_sft_config_follows_the_plan_field_by_field(topic_csv, tiny_model, tmp_path):
    plan = make_plan(topic_csv, tiny_model, epochs=2.5, learning_rate=3e-4, batch_size=4, gradient_accumulation=2,
                     max_length=96, save_steps=7, eval_steps=5, seed=11)
    kw = recipe.sft_config_kwargs(plan, tmp_path, has_eval=True)
    assert (kw["num_train_epochs"], kw["learning_rate"], kw["per_device_train_batch_size"]) == (2.5, 3e-4, 4)
    assert (kw["gradient_accumulation_steps"], kw["max_length"], kw["seed"]) == (2, 96, 11)
    assert (kw["save_strategy"], kw["save_steps"], kw["eval_strategy"], kw["eval_steps"]) == ("steps", 7, "steps", 5)
    assert kw["bf16"] is False and kw["use_cpu"] is True and kw["gradient_checkpointing"] is False
    assert kw["completion_only_loss"] is True and kw["logging_steps"] == 1
    plan.resources.device, plan.training.precision = "cuda", "bf16"
    gpu = recipe.sft_config_kwargs(plan, tmp_path, has_eval=True)
    assert gpu["bf16"] and not gpu["use_cpu"] and gpu["logging_steps"] == recipe.GPU_LOGGING_STEPS > 1
    # Each of these is an .item() per step on a GPU; the lean trainer counts tokens on the device instead.
    assert gpu["include_num_input_tokens_seen"] == "no" and gpu["logging_nan_inf_filter"] is False
    lc = recipe.lora_config(plan)
    assert (lc.r, lc.lora_alpha, lc.lora_dropout) == (plan.lora.r, plan.lora.alpha, plan.lora.dropout)
    assert recipe.quantization_config(plan) is None


def test_lora_weights_change_base_weights_do_not_and_loss_falls(topic_csv, tiny_model, tmp_path):
    import torch

    from assistant.data import chat_examples, split_examples

    plan = make_plan(topic_csv, tiny_model, epochs=4, learning_rate=5e-3)
    train_rows, val_rows = split_examples(chat_examples(plan), 0.1, 42, True)
    reg = Registry(Home.resolve(tmp_path / "h"))
    job_id = reg.submit_job(reg.add_plan(plan.to_json()))
    log_file = tmp_path / "log.jsonl"
    trainer = worker.build_trainer(plan, str(tiny_model), train_rows, val_rows, tmp_path / "out", reg, job_id,
                                   print, log_file, {"flag": False})
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    lora = [n for n in before if "lora_" in n]
    base = [n for n in before if "lora_" not in n]
    assert lora and base
    assert all(after[n].requires_grad for n in lora) and not any(after[n].requires_grad for n in base)
    assert all(not torch.equal(before[n], after[n]) for n in lora), "every LoRA matrix must have moved"
    assert all(torch.equal(before[n], after[n]) for n in base), "the base model must stay frozen"
    losses = [m["loss"] for m in reg.metrics(job_id) if m["loss"] is not None]
    assert len(losses) >= 10
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first * 0.8, f"loss did not fall enough: {first:.3f} -> {last:.3f}"


def test_cancelled_job_stops_quickly_and_registers_nothing(topic_csv, tiny_model):
    home = Home.resolve()
    reg = Registry(home)
    job_id = jobs.submit(reg, make_plan(topic_csv, tiny_model, epochs=50))
    wait_for(lambda: reg.job(job_id).step >= 2)
    jobs.cancel(reg, job_id)
    t0 = time.time()
    wait_for(lambda: reg.job(job_id).status == "cancelled", timeout=30)
    assert time.time() - t0 < 15
    assert reg.adapters() == []
    assert not (home.adapters.exists() and any(home.adapters.rglob("adapter_model.safetensors")))


def test_a_cancel_while_the_worker_starts_up_ends_it_at_once(topic_csv, tiny_model, monkeypatch):
    """Loading a big base model takes minutes; a cancel then (from the page, or SIGTERM) ends the worker within
    seconds instead of after the load: the job is cancelled, nothing registered, the next queued job starts."""
    monkeypatch.setenv("TAILOR_FAULT", "stall:load")  # every worker's model load takes ten minutes
    home = Home.resolve()
    reg = Registry(home)
    plan = make_plan(topic_csv, tiny_model, epochs=1)
    first, second = jobs.submit(reg, plan), jobs.submit(reg, plan)

    def loading(job_id):  # the worker has read its data and is loading the model
        return reg.job(job_id).status == "running" and "training rows" in "\n".join(reg.logs(job_id, tail=20))

    wait_for(lambda: loading(first), timeout=120)
    pid = reg.job(first).pid
    jobs.cancel(reg, first)
    t0 = time.time()
    wait_for(lambda: reg.job(first).status == "cancelled", timeout=60)
    assert time.time() - t0 < 10
    wait_for(lambda: "cancelled while starting up: nothing was registered" in reg.logs(first, tail=20), timeout=10)
    wait_for(lambda: not jobs.is_worker_alive(pid), timeout=10)  # gone (is_worker_alive reaps a zombie)
    # The cancelled worker started the next job, as a finished one does; SIGTERM ends that one the same way.
    wait_for(lambda: loading(second), timeout=120)
    os.kill(reg.job(second).pid, signal.SIGTERM)
    t0 = time.time()
    wait_for(lambda: reg.job(second).status == "cancelled", timeout=60)
    assert time.time() - t0 < 10
    assert reg.adapters() == []


def test_a_data_parallel_job_cancelled_while_starting_up_ends_every_process(topic_csv, tiny_model, monkeypatch):
    """With one process per GPU a cancel during the model load ends all of them within seconds: rank 0 records the
    job cancelled and leaves, the other rank leaves once it sees that (not on its own: it would strand rank 0 in a
    collective), and the launcher ends with them, so no process of the job keeps its GPU memory."""
    monkeypatch.setenv("TAILOR_TRAIN_PROCESSES", "2")
    monkeypatch.setenv("TAILOR_FAULT", "stall:load")  # both ranks' model load takes ten minutes
    reg = Registry(Home.resolve())
    job_id = jobs.submit(reg, make_plan(topic_csv, tiny_model, epochs=1))

    def processes():  # the launcher and its ranks: every command line naming this job's worker
        found, home = [], str(Home.resolve().root).encode()  # this test's home: another's job 1 is not this one
        for proc in Path("/proc").iterdir():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if b"assistant.train.worker" in cmd and str(job_id).encode() in cmd and home in cmd and state != "Z":
                found.append(int(proc.name))
        return found

    wait_for(lambda: reg.job(job_id).status == "running" and "training rows" in "\n".join(reg.logs(job_id, tail=20)),
             timeout=180)
    wait_for(lambda: (Home.resolve().job_dir(job_id) / "worker.log").read_text().count("training rows") >= 2,
             timeout=120)  # both ranks are loading the model
    assert len(processes()) == 3
    jobs.cancel(reg, job_id)
    t0 = time.time()
    wait_for(lambda: reg.job(job_id).status == "cancelled", timeout=60)
    assert time.time() - t0 < 10
    wait_for(lambda: not processes(), timeout=20)
    assert time.time() - t0 < 20, "every process of the job has ended"
    assert "cancelled while starting up" in "\n".join(reg.logs(job_id, tail=20)) and reg.adapters() == []


def test_killed_worker_is_marked_failed_and_resume_finishes(topic_csv, tiny_model):
    home = Home.resolve()
    reg = Registry(home)
    job_id = jobs.submit(reg, make_plan(topic_csv, tiny_model, epochs=3, save_steps=3))
    out = home.job_dir(job_id)
    wait_for(lambda: worker.latest_checkpoint(out))
    pid = reg.job(job_id).pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not jobs.is_worker_alive(pid), timeout=10)
    assert jobs.reconcile(reg) == [job_id]
    job = reg.job(job_id)
    assert job.status == "failed" and "died" in job.error
    jobs.resume(reg, job_id)
    wait_for(lambda: reg.job(job_id).status not in ("queued", "running"), timeout=180)
    job = reg.job(job_id)
    assert job.status == "succeeded", reg.logs(job_id)
    assert any(line.startswith("resuming from checkpoint-") for line in reg.logs(job_id, tail=100))
    rec = reg.adapter_by_id(job.adapter_id)
    assert (home.root / rec.path / "adapter_model.safetensors").exists()


def test_a_restarted_app_reattaches_to_a_running_job(topic_csv, tiny_model):
    from ui.app import make_context

    home = Home.resolve()
    job_id = jobs.submit(Registry(home), make_plan(topic_csv, tiny_model, epochs=50))
    reg = Registry(home)
    wait_for(lambda: reg.job(job_id).step >= 1)
    ctx = make_context(home)  # what a restarted app does at start
    job = ctx.registry.job(job_id)
    assert job.status == "running" and jobs.is_worker_alive(job.pid)
    step = job.step
    wait_for(lambda: ctx.registry.job(job_id).step > step)  # still making progress, seen from the new app
    jobs.cancel(ctx.registry, job_id)
    wait_for(lambda: reg.job(job_id).status == "cancelled", timeout=30)


def test_jobs_run_one_at_a_time_in_order(topic_csv, tiny_model):
    reg = Registry(Home.resolve())
    first = jobs.submit(reg, make_plan(topic_csv, tiny_model, epochs=50))
    second = jobs.submit(reg, make_plan(topic_csv, tiny_model, epochs=1))
    assert reg.job(second).status == "queued"
    wait_for(lambda: reg.job(first).status == "running")
    jobs.cancel(reg, first)
    wait_for(lambda: reg.job(second).status == "succeeded", timeout=180)
    assert reg.job(first).status == "cancelled"


def test_a_trained_adapter_round_trips_through_export_and_import(topic_csv, tiny_model, tmp_path):
    """train → register → export zip → import into a fresh home → identical sha256 and generations; the zip's
    plan names its data file by name alone, and trains again beside it."""
    import shutil
    import zipfile

    from test_adapters import generate

    from assistant.data import planned_data
    from assistant.plan import Plan
    from assistant.registry.manage import import_adapter
    from assistant.registry.store import adapter_dir, export_zip, read_plan

    reg = Registry(Home.resolve())
    job_id = jobs.submit(reg, make_plan(topic_csv, tiny_model, epochs=1, max_steps=4, learning_rate=5e-3))
    wait_for(lambda: reg.job(job_id).status not in ("queued", "running"), timeout=180)
    rec = reg.adapter_by_id(reg.job(job_id).adapter_id)
    # The plan's metrics were measured on the held-out rows when training ended, beside the majority baseline;
    # four steps teach a random tiny model nothing, and the adapter says so.
    m = rec.metrics
    assert m["held_out_scored"] == 8 and m["baseline_accuracy"] == 0.25 and m["baseline_label"] in LABELS
    assert 0 <= m["accuracy"] <= 1 and 0 <= m["f1"] <= 1 and "baseline_f1" in m
    assert "below-baseline" in rec.tags
    assert "not clearly better than always answering" in (adapter_dir(reg, rec) / "README.md").read_text()
    assert any(line.startswith("evaluating: 8/8") for line in reg.logs(job_id, tail=100))
    # the plan leaves with the file's name, not where it lies here; beside the file, it trains the same data again
    with zipfile.ZipFile(export_zip(reg, rec)) as z:
        z.extractall(tmp_path / "shared")
    shared = Plan.from_json((tmp_path / "shared" / "plan.json").read_text(encoding="utf-8"))
    assert shared.data.path == topic_csv.name and str(topic_csv.parent) not in \
        (tmp_path / "shared" / "plan.json").read_text(encoding="utf-8")
    assert read_plan(adapter_dir(reg, rec))["data"]["path"] == str(topic_csv)  # this machine keeps its path
    shutil.copy(topic_csv, tmp_path / "shared" / topic_csv.name)
    jobs.locate_data(shared, tmp_path / "elsewhere", tmp_path / "shared")
    assert planned_data(shared) == tmp_path / "shared" / topic_csv.name
    fresh = Registry(Home.resolve(tmp_path / "fresh-home"))
    imported = import_adapter(fresh, export_zip(reg, rec), base_source=str(tiny_model))
    assert imported.weights_sha256 == rec.weights_sha256 and imported.name == rec.name
    assert imported.task == "classification"  # read from the plan.json that travels in the zip
    assert generate(tiny_model, adapter_dir(fresh, imported)) == generate(tiny_model, adapter_dir(reg, rec))


def _trainer(plan, tiny_model, tmp_path, rows=16):
    from assistant.data import chat_examples

    reg = Registry(Home.resolve(tmp_path / "h"))
    job_id = reg.submit_job(reg.add_plan(plan.to_json()))
    return worker.build_trainer(plan, str(tiny_model), chat_examples(plan)[:rows], [], tmp_path / "out", reg, job_id,
                                print, tmp_path / "log.jsonl", {"flag": False})


def _loss_and_grads(trainer, compute, batch):
    model = trainer.model
    model.train()
    model.zero_grad()
    loss = compute(model, dict(batch), num_items_in_batch=None)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def _public(batch):
    """The batch as TRL's own loss takes it: without the lean trainer's host-side keys (`_tailor_…`)."""
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _same(a, b, atol=1e-5):
    import torch

    (la, ga), (lb, gb) = a, b
    assert torch.allclose(la, lb, atol=atol), (la, lb)
    assert ga.keys() == gb.keys() and all(torch.allclose(ga[n], gb[n], atol=atol) for n in ga)


def test_lean_loss_equals_trls_loss_and_gradients_whole_or_in_chunks(topic_csv, tiny_model, tmp_path):
    """The trained-positions-only LM head gives TRL's loss and the same LoRA gradients, also when the head
    runs in chunks recomputed in the backward pass (as for long answers or packed rows on a GPU)."""
    trainer = _trainer(make_plan(topic_csv, tiny_model), tiny_model, tmp_path)
    assert type(trainer).__name__ == "LeanSFTTrainer"
    batch = next(iter(trainer.get_train_dataloader()))
    trls = _loss_and_grads(trainer, super(type(trainer), trainer).compute_loss, _public(batch))
    _same(_loss_and_grads(trainer, trainer.compute_loss, batch), trls)
    trained = int((batch["labels"][:, 1:] != -100).sum())
    vocab = trainer.model.get_output_embeddings().weight.shape[0]
    trainer.head_chunk_elements = vocab * max(1, trained // 5)  # at least five chunks
    _same(_loss_and_grads(trainer, trainer.compute_loss, batch), trls)
    assert trainer._metrics["train"]["mean_token_accuracy"]  # kept as tensors until the log
    trainer.log({"loss": 1.0})
    assert isinstance(trainer._total_train_tokens, int) and trainer._total_train_tokens > 0



def test_a_soft_capped_models_loss_runs_in_head_chunks_and_equals_trls(topic_csv, tmp_path):
    """Gemma 2 caps its logits (cap · tanh(logits / cap)). The lean head applies the cap per chunk, so such a
    model no longer takes TRL's path holding every token's logits (21 GB for 8 × 1,024 tokens of a 256k
    vocabulary): its loss and gradients equal TRL's, whole and in chunks, and without the cap they would not."""
    import torch
    from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

    from helpers import smol_tokenizer_dir

    tok = AutoTokenizer.from_pretrained(smol_tokenizer_dir())
    torch.manual_seed(0)
    cfg = Gemma2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16,
                       sliding_window=32, final_logit_softcapping=2.0, initializer_range=0.2,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    folder = tmp_path / "tiny-gemma2"
    Gemma2ForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    trainer = _trainer(make_plan(topic_csv, folder), folder, tmp_path)
    assert trainer._lean_model_ok(trainer.model)
    batch = next(iter(trainer.get_train_dataloader()))
    trls = _loss_and_grads(trainer, super(type(trainer), trainer).compute_loss, _public(batch))
    _same(_loss_and_grads(trainer, trainer.compute_loss, batch), trls)
    trained = int((batch["labels"][:, 1:] != -100).sum())
    trainer.head_chunk_elements = cfg.vocab_size * max(1, trained // 5)  # at least five chunks
    _same(_loss_and_grads(trainer, trainer.compute_loss, batch), trls)
    head = trainer._head_loss

    def uncapped(h, hidden, targets, softcap=None):
        return head(h, hidden, targets)

    trainer._head_loss = uncapped  # the sabotage: the cap left out
    loss, _ = _loss_and_grads(trainer, trainer.compute_loss, batch)
    assert abs(loss - trls[0]) > 0.05, (loss, trls[0])

def _largest_tensor(step) -> int:
    """The most elements any one tensor made by `step()` had (every op's output, forward and backward)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Largest(TorchDispatchMode):
        most = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in torch.utils._pytree.tree_leaves(out):
                if isinstance(t, torch.Tensor):
                    Largest.most = max(Largest.most, t.numel())
            return out

    with Largest():
        step()
    return Largest.most


def test_no_path_ever_holds_every_tokens_logits(topic_csv, tiny_model, tmp_path):
    """Issue 17: the LM head and cross-entropy run in pieces on every path, so the logits of a whole batch
    (tokens × vocabulary) never exist at once. The lean path projects only the trained positions, in chunks; a
    model the lean path leaves to TRL (here Granite, which divides its logits by `logits_scaling`) gets TRL's fused
    LM head, which projects in tiles of at most 4,096 tokens × 32,768 vocabulary entries. Both give the loss the
    full logits give; the full-logits forward, run under the same watch, shows the watch sees them."""
    import torch
    from transformers import AutoTokenizer, GraniteConfig, GraniteForCausalLM

    from helpers import smol_tokenizer_dir

    tok = AutoTokenizer.from_pretrained(smol_tokenizer_dir())
    torch.manual_seed(0)
    cfg = GraniteConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, logits_scaling=4.0, initializer_range=0.2,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    granite = tmp_path / "tiny-granite"
    GraniteForCausalLM(cfg).save_pretrained(granite)
    tok.save_pretrained(granite)

    for folder, lean in ((tiny_model, True), (granite, False)):
        _holds_no_batch_of_logits(_trainer(make_plan(topic_csv, folder), folder, tmp_path / folder.name), lean)


def _holds_no_batch_of_logits(trainer, lean: bool) -> None:
    import torch
    import torch.nn.functional as F

    assert trainer._lean_model_ok(trainer.model) is lean
    batch = next(iter(trainer.get_train_dataloader()))
    model = trainer.model
    model.train()
    labels = batch["labels"]
    tokens = labels.shape[0] * (labels.shape[1] - 1)
    head = model.get_output_embeddings().weight
    full = tokens * head.shape[0]
    if lean:
        trainer.head_chunk_elements = full // 8  # the trained positions are few: force several chunks anyway
    losses = {}

    def lean_or_trls():
        losses["path"] = trainer.compute_loss(model, dict(batch), num_items_in_batch=None)
        losses["path"].backward()

    def full_logits():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        losses["full"] = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(),
                                         ignore_index=-100)

    assert _largest_tensor(full_logits) >= full  # the watch sees a whole batch's logits where they exist
    most = _largest_tensor(lean_or_trls)
    piece = trainer.head_chunk_elements if lean else tokens * 32768  # TRL's tile: 32,768 vocabulary entries
    assert most <= max(piece, head.numel()) < full, (type(model.get_base_model()).__name__, most, full)
    assert torch.allclose(losses["path"].detach(), losses["full"].detach(), atol=1e-4), losses


def test_the_lean_loss_never_waits_for_the_device_between_logs(topic_csv, tiny_model, tmp_path):
    """The trained positions are found on the host (in the data collator) before the batch moves to the device, so the
    loss path runs no data-dependent operation (boolean indexing, nonzero, .item()) — on a GPU each waits for
    it. Recorded with a dispatch mode over every operation of the loss; the sabotage (no host indices) shows
    the recorder sees the wait. The token count it keeps on the device reaches the trainer's state at a log."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    waits = {torch.ops.aten.nonzero.default, torch.ops.aten._local_scalar_dense.default,
             torch.ops.aten.is_nonzero.default, torch.ops.aten.masked_select.default}

    class Waits(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.seen = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in waits or (func == torch.ops.aten.index.Tensor and any(
                    isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1] if i is not None)):
                self.seen.append(str(func))
            return func(*args, **(kwargs or {}))

    trainer = _trainer(make_plan(topic_csv, tiny_model), tiny_model, tmp_path)
    trainer.args.include_num_input_tokens_seen = "no"  # as a GPU plan sets it
    batch = next(iter(trainer.get_train_dataloader()))  # the collator found the trained positions on the host
    assert any(k.startswith("_tailor") for k in batch)
    assert trainer.own_causal_mask and "_tailor_no_padding" not in batch, "a padded batch: its 4-D mask is built here"
    reference = _loss_and_grads(trainer, super(type(trainer), trainer).compute_loss, _public(batch))
    with Waits() as recorder:
        lean = _loss_and_grads(trainer, trainer.compute_loss, batch)
    assert recorder.seen == [], recorder.seen
    _same(lean, reference)
    with Waits() as recorder:  # the sabotage: without the host's indices the device is asked how many there are
        trainer.compute_loss(trainer.model, _public(batch))
    assert "aten.nonzero.default" in recorder.seen
    trainer.state.num_input_tokens_seen = 0
    trainer.log({"loss": 1.0})
    assert trainer.state.num_input_tokens_seen == trainer._total_train_tokens > 0


def test_an_optimizer_step_between_logs_never_waits_for_the_device(topic_csv, tiny_model, tmp_path):
    """Whole optimizer steps (two micro-batches each, bf16 with master weights, gradient clipping, AdamW), with a
    GPU plan's settings: no operation between a step's start and its end makes the host wait for the device
    (`.item()`, `nonzero`, a tensor's truth value, boolean indexing). A CPU has no device, so device tensors are
    tracked: the model's parameters and buffers, each batch as the step receives it (a GPU trainer's data loader
    has moved it to the GPU), and everything computed from them (gradients, masters, optimizer states, the
    running loss). Waits at a log are allowed; the sabotage (the trainer's NaN filter, a truth value of each
    micro-batch's loss) shows the recorder sees the waits inside each step."""
    import torch
    from torch.utils import _pytree as pytree
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.weak import WeakTensorKeyDictionary
    from transformers import TrainerCallback

    waits = {torch.ops.aten.nonzero.default, torch.ops.aten._local_scalar_dense.default,
             torch.ops.aten.is_nonzero.default, torch.ops.aten.masked_select.default}

    class DeviceWaits(TorchDispatchMode, TrainerCallback):
        def __init__(self, model):
            super().__init__()
            self.device = WeakTensorKeyDictionary()
            self.taint([*model.parameters(), *model.buffers()])
            self.step, self.seen = None, {}

        def taint(self, tensors):
            for t in tensors:
                if isinstance(t, torch.Tensor):
                    self.device[t] = True

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if any(isinstance(t, torch.Tensor) and t in self.device for t in pytree.tree_leaves((args, kwargs))):
                self.taint(pytree.tree_leaves(out))
                boolean_index = func == torch.ops.aten.index.Tensor and any(
                    isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1] if i is not None)
                if self.step is not None and (func in waits or boolean_index):
                    self.seen[self.step].append(str(func))
            return out

        def on_step_begin(self, args, state, control, **kw):
            self.step = state.global_step + 1
            self.seen[self.step] = []

        def on_step_end(self, args, state, control, **kw):
            self.step = None

    def run(nan_filter):
        plan = make_plan(topic_csv, tiny_model, precision="bf16", max_steps=4, batch_size=2, gradient_accumulation=2,
                         epochs=1)
        trainer = _trainer(plan, tiny_model, tmp_path / f"filter-{nan_filter}")
        trainer.args.logging_steps, trainer.args.logging_first_step = 2, True  # logs after steps 1, 2 and 4
        trainer.args.logging_nan_inf_filter, trainer.args.include_num_input_tokens_seen = nan_filter, "no"
        trainer.args.max_grad_norm = 1.0
        recorder = DeviceWaits(trainer.model)
        trainer.add_callback(recorder)
        step = trainer.training_step

        def training_step(model, inputs, *a, **k):
            recorder.taint(inputs.values())
            return step(model, inputs, *a, **k)

        trainer.training_step = training_step
        with recorder:
            trainer.train()
        assert trainer.masters is not None and len(trainer.masters)  # the bf16 path with fp32 masters ran
        assert trainer.state.global_step == 4 and len(recorder.seen) == 4
        return recorder.seen

    assert run(nan_filter=False) == {step: [] for step in (1, 2, 3, 4)}
    sabotaged = run(nan_filter=True)
    # the filter asks each micro-batch's loss whether it is NaN: a wait per micro-batch, two per step
    assert all(seen.count("aten._local_scalar_dense.default") >= 2 for seen in sabotaged.values()), sabotaged


def test_compiled_layers_train_like_eager_and_a_failed_compile_falls_back(topic_csv, tiny_model, tmp_path):
    """Each decoder layer compiled (TorchInductor, here on the CPU) gives the eager loss and gradients; a compiler
    failure switches every layer back to eager, says why in the log, and the step still gives the eager result."""
    import torch

    from assistant.train.compiled import compile_layers

    plan = make_plan(topic_csv, tiny_model)
    trainer = _trainer(plan, tiny_model, tmp_path)
    batch = next(iter(trainer.get_train_dataloader()))
    eager = _loss_and_grads(trainer, trainer.compute_loss, batch)
    lines = []
    torch._dynamo.reset()
    layers = compile_layers(trainer.model, lines.append, dynamic=False)
    assert len(layers) == 2 and "compiling 2 decoder layers" in lines[0]
    _same(_loss_and_grads(trainer, trainer.compute_loss, batch), eager, atol=1e-4)
    assert layers.failed is None

    def broken(gm, example_inputs):
        raise RuntimeError("no C compiler here")

    other = _trainer(plan, tiny_model, tmp_path / "again")
    torch._dynamo.reset()
    fallen = compile_layers(other.model, lines.append, backend=broken)
    _same(_loss_and_grads(other, other.compute_loss, batch), eager)
    assert fallen.failed and "no C compiler here" in fallen.failed
    assert any("training goes on without compilation" in line and "no C compiler" in line for line in lines)


def test_compiled_layers_train_packed_rows_like_eager(topic_csv, tiny_model, tmp_path):
    """What a GPU plan runs: packed rows (the block-diagonal mask built by the lean path from the positions) through
    compiled decoder layers give the eager loss and gradients."""
    import torch

    from assistant.train.compiled import compile_layers

    plan = make_plan(topic_csv, tiny_model, packing=True, batch_size=2, max_length=256)
    trainer = _trainer(plan, tiny_model, tmp_path, rows=40)
    batch = next(iter(trainer.get_train_dataloader()))
    assert trainer.row_packing and "position_ids" in batch
    eager = _loss_and_grads(trainer, trainer.compute_loss, batch)
    torch._dynamo.reset()
    layers = compile_layers(trainer.model, lambda line: None, dynamic=False)
    _same(_loss_and_grads(trainer, trainer.compute_loss, batch), eager, atol=1e-4)
    assert layers.failed is None


def test_every_layer_of_a_deep_model_runs_compiled_and_generation_stays_eager():
    """Dynamo compiles one code object for all the layers; more than its recompile limit (8) of layers must not
    each need their own graph, or the later layers would silently run eagerly. Generation (held-out answers during
    training) runs eagerly instead of compiling per-layer cache graphs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from assistant.train.compiled import compile_layers

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=12,
                         num_attention_heads=4, num_key_value_heads=2, pad_token_id=0)
    model = get_peft_model(LlamaForCausalLM(config), LoraConfig(r=4, target_modules="all-linear"))
    counts = {"graphs": 0, "runs": 0}

    def counting(gm, example_inputs):
        counts["graphs"] += 1

        def run(*args):
            counts["runs"] += 1
            return gm.forward(*args)
        return run

    torch._dynamo.reset()
    assert len(compile_layers(model, lambda line: None, backend=counting)) == 12
    for length in (16, 24, 20):  # padded batches of different lengths, as training sees them
        ids = torch.randint(1, 300, (2, length))
        before = counts["runs"]
        model(input_ids=ids, labels=ids, use_cache=False).loss.backward()
        assert counts["runs"] - before == 12, f"only {counts['runs'] - before} of 12 layers ran compiled"
    assert counts["graphs"] <= 4, f"{counts['graphs']} graphs for 12 layers: the layers are compiled one by one"
    graphs, runs = counts["graphs"], counts["runs"]
    model.eval()
    with torch.no_grad():
        model.generate(input_ids=torch.randint(1, 300, (1, 5)), max_new_tokens=4, do_sample=False)
    assert (counts["graphs"], counts["runs"]) == (graphs, runs), "generation compiled or ran compiled graphs"


def test_bf16_trains_bf16_factors_with_fp32_masters_like_autocast_did_without_its_casts(topic_csv, tiny_model,
                                                                                       tmp_path):
    """Under bf16 the LoRA factors are bf16 and the optimizer updates fp32 master copies: the weights after three
    steps equal those of the fp32-factor run under autocast (the same bf16 products, the same fp32 updates), a
    step makes far fewer dtype copies, the masters travel in the optimizer's state dict, and the trained
    weights are fp32 again at the end (the adapter is saved from them)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from assistant.train.master_weights import MASTERS_KEY

    plan = make_plan(topic_csv, tiny_model, precision="bf16", max_steps=3, learning_rate=2e-4, epochs=1)
    plan.lora.dropout = 0.0

    class Copies(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Copies.count += func.overloadpacket is torch.ops.aten._to_copy
            return func(*args, **(kwargs or {}))

    runs = {}
    for masters in (False, True):
        trainer = _trainer(plan, tiny_model, tmp_path / f"masters-{masters}")
        trainer.master_weights = masters
        trainer.create_optimizer()
        trained = {n: p for n, p in trainer.model.named_parameters() if p.requires_grad}
        if not masters:
            start = {n: p.detach().clone() for n, p in trained.items()}
        assert {p.dtype for p in trained.values()} == {torch.bfloat16 if masters else torch.float32}
        batch = next(iter(trainer.get_train_dataloader()))
        trainer.current_gradient_accumulation_steps = 1
        Copies.count = 0
        with Copies():
            trainer.training_step(trainer.model, dict(batch))
        trainer.model.zero_grad()
        trainer.train()
        assert {p.dtype for p in trained.values()} == {torch.float32}, "the adapter must be saved in fp32"
        runs[masters] = (Copies.count, {n: p.detach().clone() for n, p in trained.items()}, trainer)
    (plain_copies, plain, _), (copies, ours, trainer) = runs[False], runs[True]
    assert copies * 3 < plain_copies, (copies, plain_copies)
    for n in ours:  # Adam turns tiny gradient differences into whole-lr steps now and then: compare the means
        step, ours_step = plain[n] - start[n], ours[n] - start[n]
        assert step.abs().mean() > 0, f"{n} did not train"
        assert (ours_step - step).abs().mean() < 0.05 * step.abs().mean(), n

    state = trainer.optimizer.state_dict()
    assert len(state[MASTERS_KEY]) == len(trainer.masters) == len(ours)
    saved = [m.clone() for m in state[MASTERS_KEY]]
    for p, master in trainer.masters.pairs:  # a resumed run starts from the saved masters, exactly
        master.zero_()
        p.data = p.data.to(torch.bfloat16).zero_()
    trainer.optimizer.load_state_dict({**state, MASTERS_KEY: saved})
    assert all(torch.equal(master, m) for (_, master), m in zip(trainer.masters.pairs, saved))
    assert all(torch.equal(p, m.to(p.dtype)) for (p, _), m in zip(trainer.masters.pairs, saved))


def test_master_weights_give_back_the_best_checkpoint_the_trainer_loaded_not_the_last_step():
    """With early stopping the trainer loads the best checkpoint into the model after the last step; restoring
    fp32 weights must keep those, and give the masters' full precision only where the model still holds them."""
    import torch

    from assistant.train.master_weights import MasterWeights

    torch.manual_seed(0)
    kept, reloaded = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    optimizer = torch.optim.SGD([*kept.parameters(), *reloaded.parameters()], lr=1e-3)
    masters = MasterWeights(optimizer, torch.bfloat16)
    assert kept.weight.dtype == torch.bfloat16 and len(masters) == 4
    for p in optimizer.param_groups[0]["params"]:
        assert p.dtype == torch.float32
    x = torch.randn(3, 4, dtype=torch.bfloat16)
    (kept(x).sum() + reloaded(x).sum()).backward()
    optimizer.step()
    last = {id(p): m.clone() for p, m in masters.pairs}
    best = torch.full_like(reloaded.weight, 0.5)
    with torch.no_grad():
        reloaded.weight.copy_(best)  # what loading the best checkpoint does
    masters.restore()
    assert kept.weight.dtype == reloaded.weight.dtype == torch.float32
    assert torch.equal(kept.weight, last[id(kept.weight)]), "the last step's fp32 masters"
    assert torch.equal(reloaded.weight, best.float()), "the reloaded best weights, not the last step"


def test_bf16_adapters_as_trl_casts_them_for_qlora_get_fp32_masters_so_small_updates_add_up():
    """TRL casts QLoRA's adapters to bf16 before the optimizer exists. A bf16 AdamW then rounds every update
    smaller than half of bf16's spacing away (from 1.0 down, 0.002): five steps of lr 1e-3 leave the weight at
    exactly 1.0. With fp32 masters the same steps add up in the master and reach the model's bf16 weight."""
    import torch

    from assistant.train.master_weights import MasterWeights

    weights = {}
    for masters in (False, True):
        w = torch.nn.Parameter(torch.ones(8, dtype=torch.bfloat16))
        optimizer = torch.optim.AdamW([w], lr=1e-3, weight_decay=0.0)
        kept = MasterWeights(optimizer, torch.bfloat16) if masters else None
        for _ in range(5):
            w.grad = torch.ones_like(w)
            optimizer.step()
            optimizer.zero_grad()
        weights[masters] = w.detach().clone()
        if masters:
            (p, master), = kept.pairs
            assert p is w and w.dtype == torch.bfloat16 and master.dtype == torch.float32
            assert torch.allclose(master, torch.full_like(master, 1 - 5e-3), atol=1e-5)
            assert optimizer.state[master]["exp_avg"].dtype == torch.float32
            kept.restore()
            assert w.dtype == torch.float32 and torch.equal(w.detach(), master)
    assert torch.equal(weights[False], torch.ones(8, dtype=torch.bfloat16)), "bf16 AdamW should round these away"
    assert (weights[True] < 1).all() and torch.allclose(weights[True].float(), torch.full((8,), 0.995), atol=4e-3)

def test_an_fp16_plan_trains_fp32_adapters_with_a_loss_scaler_on_a_16_bit_base(topic_csv, tiny_model, tmp_path):
    """A card without bf16 (a T4, a V100) trains in fp16: the base loads in fp16, QLoRA computes in fp16, and every
    trained tensor is fp32 when the optimizer is made — also adapters TRL has cast to bf16 for QLoRA, which under
    fp16 would step with no master copies — so fp16's loss scaler can unscale them (the scaler exists on a GPU:
    tests/test_gpu.py). The adapter trains and the base does not move."""
    import torch

    plan = make_plan(topic_csv, tiny_model, precision="fp16", max_steps=4, learning_rate=1e-3, epochs=1)
    plan.resources.device = "cuda"
    kw = recipe.sft_config_kwargs(plan, tmp_path, has_eval=False)
    assert kw["fp16"] is True and kw["bf16"] is False
    plan.lora.method = "qlora"
    assert recipe.quantization_config(plan).bnb_4bit_compute_dtype == torch.float16
    plan.training.precision = "bf16"
    assert recipe.quantization_config(plan).bnb_4bit_compute_dtype == torch.bfloat16
    plan.lora.method, plan.training.precision, plan.resources.device = "lora", "fp16", "cpu"

    trainer = _trainer(plan, tiny_model, tmp_path)
    assert trainer.args.fp16 and trainer.accelerator.mixed_precision == "fp16"  # its scaler: on a GPU (test_gpu.py)
    trained = {n: p for n, p in trainer.model.named_parameters() if p.requires_grad}
    frozen = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if not p.requires_grad}
    assert {p.dtype for p in frozen.values()} == {torch.float16}
    for p in trained.values():  # what TRL does to a quantized model's adapters
        p.data = p.data.to(torch.bfloat16)
    start = {n: p.detach().float().clone() for n, p in trained.items()}
    trainer.create_optimizer()
    assert {p.dtype for p in trained.values()} == {torch.float32} and getattr(trainer, "masters", None) is None
    trainer.train()
    assert trainer.state.global_step == 4
    assert all(not torch.equal(start[n], p.detach()) for n, p in trained.items() if "lora_B" in n)
    assert all(torch.equal(frozen[n], p) for n, p in trainer.model.named_parameters() if n in frozen)


def test_a_bf16_plan_on_a_card_without_bf16_trains_in_fp16_and_says_so(monkeypatch):
    """A plan made for another card (or for one the catalog does not know) reaches a T4: torch answers that bf16 is
    supported there (it is emulated, without tensor cores), so the worker asks for native bf16 and switches the
    plan to fp16, which the registry then records. On an Ampere card, or the CPU, the plan stays as made."""
    import torch

    from assistant.plan import Plan

    native = {"ok": False}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation or
                        native["ok"])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    said = []
    plan = Plan()
    plan.resources.device, plan.training.precision = "cuda", "bf16"
    recipe.precision_on_this_gpu(plan, said.append)
    assert plan.training.precision == "fp16"
    assert said == ["Tesla T4 has no bf16 (it is older than NVIDIA's Ampere cards): training in fp16 instead, "
                    "with the loss scaled"]
    native["ok"], plan.training.precision = True, "bf16"
    recipe.precision_on_this_gpu(plan, said.append)
    assert plan.training.precision == "bf16" and len(said) == 1
    cpu = Plan()
    recipe.precision_on_this_gpu(cpu, said.append)
    assert cpu.training.precision == "fp32" and len(said) == 1


def test_bf16_gradient_accumulation_sums_in_fp32_and_clips_that_sum(topic_csv, tiny_model, tmp_path):
    """Under bf16 with four micro-batches a step, the gradient the optimizer steps with is the fp32 sum of the four
    micro-batches' bf16 gradients, added in order, exactly — not their bf16 sum (autograd's accumulation, which
    rounds at every addition and differs here); clipping and the logged norm are the fp32 sum's: with a small
    max norm the step's gradient has exactly that norm."""
    import torch

    def run(max_norm, name):
        plan = make_plan(topic_csv, tiny_model, precision="bf16", max_steps=1, batch_size=2, gradient_accumulation=4,
                         epochs=1)
        trainer = _trainer(plan, tiny_model, tmp_path / name)
        trainer.args.max_grad_norm, trainer.args.logging_steps = max_norm, 1
        trainer.create_optimizer()
        pairs = trainer.masters.pairs
        micro = {id(p): [] for p, _ in pairs}  # each micro-batch's bf16 gradient, as its backward pass leaves it
        for p, _ in pairs:
            p.register_post_accumulate_grad_hook(lambda p: micro[id(p)].append(p.grad.detach().clone()))
        stepped = {}
        trainer.optimizer.register_step_pre_hook(  # after the masters' own hook: what AdamW will step with
            lambda *a: stepped.update({id(p): m.grad.detach().clone() for p, m in pairs}))
        trainer.train()
        assert all(len(micro[id(p)]) == 4 for p, _ in pairs)
        fp32_sum, bf16_sum = {}, {}
        for p, _ in pairs:
            f, b = torch.zeros_like(p, dtype=torch.float32), torch.zeros_like(p, dtype=torch.bfloat16)
            for g in micro[id(p)]:
                f, b = f + g.float(), b + g
            fp32_sum[id(p)], bf16_sum[id(p)] = f, b
        norm = torch.nn.utils.get_total_norm(list(fp32_sum.values()))
        logged = [h["grad_norm"] for h in trainer.state.log_history if "grad_norm" in h]
        assert logged and abs(logged[0] - norm.item()) <= 1e-5 * norm.item(), (logged, norm)
        return pairs, stepped, fp32_sum, bf16_sum, norm

    pairs, stepped, fp32_sum, bf16_sum, norm = run(1e9, "unclipped")
    assert norm > 0
    for p, _ in pairs:
        assert torch.equal(stepped[id(p)], fp32_sum[id(p)]), "the step's gradient is the fp32 sum, exactly"
    assert any(not torch.equal(bf16_sum[k].float(), fp32_sum[k]) for k in fp32_sum), "bf16 summing should differ"

    pairs, stepped, fp32_sum, _, norm = run(1e-3, "clipped")
    assert norm > 1e-2
    clipped = torch.nn.utils.get_total_norm(list(stepped.values()))
    assert abs(clipped.item() - 1e-3) < 1e-6, clipped
    for p, _ in pairs:
        assert torch.allclose(stepped[id(p)], fp32_sum[id(p)] * (1e-3 / (norm + 1e-6)), rtol=1e-5, atol=1e-12)


def test_packed_rows_train_each_example_as_if_alone(topic_csv, tiny_model, tmp_path):
    """Packing keeps each packed row a batch row (not one long padding-free row, whose SDPA attention is quadratic
    in the whole batch), with position_ids restarting per example and no attention mask: the batch's loss equals
    the token-weighted loss of each example run alone. With the mask left in, examples would see each other."""
    import torch
    import torch.nn.functional as F

    from assistant.train.lean_trainer import ONE_EXAMPLE

    plan = make_plan(topic_csv, tiny_model, packing=True, batch_size=2, max_length=256)
    trainer = _trainer(plan, tiny_model, tmp_path, rows=40)
    assert trainer.row_packing and trainer.own_causal_mask  # the block-diagonal mask is built by the lean path
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch["input_ids"].shape[0] == 2 and batch["position_ids"].shape == batch["input_ids"].shape
    assert batch[ONE_EXAMPLE] is False  # seen on the host: the positions restart within the rows
    packed = _loss_and_grads(trainer, trainer.compute_loss, batch)
    no_mask = {k: v for k, v in _public(batch).items() if k != "attention_mask"}
    trls = super(type(trainer), trainer).compute_loss
    _same(packed, _loss_and_grads(trainer, lambda m, b, **kw: trls(m, no_mask, **kw), batch))
    # rows of one example each (positions 0 … end): the positions are left out, attention plainly causal
    whole = {**batch, "position_ids": torch.arange(batch["input_ids"].shape[1]).expand(2, -1), ONE_EXAMPLE: True}
    plain = {k: v for k, v in _public(whole).items() if k != "attention_mask"}
    _same(_loss_and_grads(trainer, trainer.compute_loss, whole),
          _loss_and_grads(trainer, lambda m, b, **kw: trls(m, plain, **kw), whole))

    model = trainer.model
    model.eval()
    total, count, examples = 0.0, 0, 0
    with torch.no_grad():
        for row in range(2):
            length = int(batch["attention_mask"][row].sum())
            starts = (batch["position_ids"][row, :length] == 0).nonzero().flatten().tolist()
            examples += len(starts)
            for a, b in zip(starts, [*starts[1:], length]):
                ids, labels = batch["input_ids"][row:row + 1, a:b], batch["labels"][row:row + 1, a:b]
                logits = model(input_ids=ids, use_cache=False).logits[:, :-1].float()
                mask = labels[:, 1:] != -100
                total += F.cross_entropy(logits[mask], labels[:, 1:][mask], reduction="sum").item()
                count += int(mask.sum())
    assert examples >= 6, "each packed row holds several examples"
    assert abs(packed[0].item() - total / count) < 1e-4, (packed[0].item(), total / count)
    with torch.no_grad():  # the sabotage: a plain attention mask lets examples attend across their boundaries
        contaminated = trls(model, _public(batch)).item()
    assert abs(contaminated - total / count) > 1e-3


def test_a_packed_run_evaluates_as_often_as_planned_and_counts_its_packed_steps(topic_csv, tiny_model, tmp_path):
    """A packed run has fewer steps than examples ÷ batch: the plan's evaluation steps, counted from the examples,
    once let a GPU run with early stopping evaluate once (141 of its 176 steps) instead of four times. The plan
    now counts packed rows, the worker corrects the estimate to the rows it packed (and says so), and the job's
    total is the trainer's own count."""
    from assistant.data import chat_examples
    from assistant.sweeps import EVALUATIONS, evaluate_often, optimizer_steps

    plan = make_plan(topic_csv, tiny_model, packing=True, batch_size=2, max_length=256, epochs=2.0)
    evaluate_often(plan)  # the plan's own schedule, as the planner makes it for early stopping
    unpacked = make_plan(topic_csv, tiny_model, batch_size=2, max_length=256, epochs=2.0)
    assert optimizer_steps(plan) < optimizer_steps(unpacked) / 3  # packed rows, not examples
    set_by_hand = make_plan(topic_csv, tiny_model, packing=True, batch_size=2, max_length=256, epochs=2.0,
                            eval_steps=7, save_steps=7)
    reg = Registry(Home.resolve(tmp_path / "h0"))
    kept = worker.build_trainer(set_by_hand, str(tiny_model), chat_examples(plan)[:40], [], tmp_path / "out0", reg,
                                reg.submit_job(reg.add_plan(set_by_hand.to_json())), print, tmp_path / "log0.jsonl",
                                {"flag": False})
    assert kept.args.eval_steps == kept.args.save_steps == 7  # "evaluate every 7 steps" is kept as said
    reg = Registry(Home.resolve(tmp_path / "h"))
    job_id = reg.submit_job(reg.add_plan(plan.to_json()))
    said: list[str] = []
    trainer = worker.build_trainer(plan, str(tiny_model), chat_examples(plan)[:40], [], tmp_path / "out", reg,
                                   job_id, said.append, tmp_path / "log.jsonl", {"flag": False})
    rows = len(trainer.train_dataset)
    steps = -(-rows // 2) * 2
    assert rows < 40 / 3 and trainer.args.eval_steps == trainer.args.save_steps == max(1, steps // EVALUATIONS)
    assert any(f"packed into {rows} rows ({steps} steps): evaluating every" in line for line in said), said
    trainer.train()
    assert trainer.state.global_step == steps and reg.job(job_id).total_steps == steps


def test_a_packed_plan_counts_its_rows_from_the_mean_example_not_the_median(tmp_path, tiny_model):
    """Long-tailed data (most examples a few words, some a paragraph): a packed run trains on the mean example's
    tokens, each cut at the row length. The plan once counted packed rows from the median example and planned far
    fewer steps than TRL's packing makes; now its count is within a fifth of the rows TRL packs."""
    import math
    import random

    from assistant.chat import converse
    from assistant.data import chat_examples
    from assistant.sweeps import optimizer_steps
    from helpers import WORDS

    rng = random.Random(3)
    lines = ["text,label"]
    for i in range(120):
        label = LABELS[i % len(LABELS)]
        n = 3 if rng.random() < 0.75 else rng.randint(100, 400)
        lines.append(" ".join(rng.choice(WORDS[label]) for _ in range(n)) + f",{label}")
    csv = tmp_path / "skewed.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = converse(["classify these texts by topic", "max length 256"], str(csv),
                    default_base_model=str(tiny_model)).plan
    plan.training.packing, plan.training.batch_size, plan.training.gradient_accumulation = True, 1, 1
    plan.training.epochs, plan.training.max_steps, plan.data.validation_fraction = 1.0, 0, 0.0
    ts, t = plan.data.tokens, plan.training
    assert ts.mean > 1.5 * ts.median and ts.truncated > 0  # the long tail, some of it cut at the row length
    examples = chat_examples(plan)
    reg = Registry(Home.resolve(tmp_path / "h"))
    job_id = reg.submit_job(reg.add_plan(plan.to_json()))
    trainer = worker.build_trainer(plan, str(tiny_model), examples, [], tmp_path / "out", reg, job_id,
                                   lambda line: None, tmp_path / "log.jsonl", {"flag": False})
    packed = len(trainer.train_dataset)
    assert len(examples) == plan.data.used_rows and abs(optimizer_steps(plan) - packed) <= 0.2 * packed, (
        optimizer_steps(plan), packed)
    by_median = math.ceil(len(examples) * ts.median / t.max_length)
    assert by_median < 0.6 * packed, (by_median, packed, optimizer_steps(plan), ts)  # what the median made of it


def test_lean_path_runs_under_autocast_like_trls(topic_csv, tiny_model, tmp_path):
    """With bf16 mixed precision the lean path computes in bf16 as TRL's own path does (accelerate's autocast
    wraps only the top-level forward): same loss to bf16 rounding."""
    import torch

    plan = make_plan(topic_csv, tiny_model)
    plan.training.precision = "bf16"
    trainer = _trainer(plan, tiny_model, tmp_path)
    torch.manual_seed(0)
    with torch.no_grad():  # a trained adapter: LoRA B starts at zero and would hide the adapter's precision
        for n, p in trainer.model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    trainer.model = trainer.accelerator.prepare(trainer.model)  # as train() does: forward wrapped in autocast
    batch = next(iter(trainer.get_train_dataloader()))
    lean = _loss_and_grads(trainer, trainer.compute_loss, batch)[0]
    trl = _loss_and_grads(trainer, super(type(trainer), trainer).compute_loss, _public(batch))[0]
    assert abs(lean.item() - trl.item()) < 2e-2 * max(1.0, abs(trl.item())), (lean, trl)
    trainer.accelerator.native_amp = False  # the sabotage: without autocast the adapters compute in fp32
    plain = _loss_and_grads(trainer, trainer.compute_loss, batch)[0]
    assert abs(lean.item() - trl.item()) < abs(plain.item() - trl.item()), (lean, trl, plain)


def test_two_process_data_parallel_run_completes(topic_csv, tiny_model, monkeypatch):
    """The multi-GPU path (accelerate launch, DDP), proven with two CPU processes on gloo."""
    monkeypatch.setenv("TAILOR_TRAIN_PROCESSES", "2")
    assert "accelerate.commands.launch" in jobs.worker_command(Home.resolve(), 1)
    reg = Registry(Home.resolve())
    job_id = jobs.submit(reg, make_plan(topic_csv, tiny_model, epochs=1, learning_rate=5e-3))
    wait_for(lambda: reg.job(job_id).status not in ("queued", "running"), timeout=240)
    job = reg.job(job_id)
    assert job.status == "succeeded", (job, reg.logs(job_id, tail=30))
    assert "data parallel: 2 processes" in reg.logs(job_id, tail=100)
    assert len(reg.adapters()) == 1  # rank 0 alone registers
    # 80 rows, 10% held out, batch 8 per process × 2 processes: 5 optimizer steps, not 9.
    assert job.step == 5, job.step
    worker_log = (Home.resolve().job_dir(job_id) / "worker.log").read_text()
    assert "[rank 1]" in worker_log


def test_data_parallel_runs_the_lean_head_inside_ddp_so_gradients_are_all_reduced(topic_csv, tiny_model, tmp_path):
    """With one process per GPU (DDP) the lean head's loss runs inside DDP's forward: each process computes its own
    shard's loss, the LoRA gradients come out all-reduced (equal in both processes, and equal to TRL's own path,
    which materialises every position's logits). Two CPU processes on gloo, each with a different batch."""
    import subprocess
    import sys
    from pathlib import Path

    import torch

    plan = make_plan(topic_csv, tiny_model)
    (tmp_path / "plan.json").write_text(plan.to_json())
    script = Path(__file__).with_name("ddp_lean_check.py")
    env = jobs.worker_env()
    env["PYTHONPATH"] = os.pathsep.join([str(script.parent), env["PYTHONPATH"]])
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(jobs._free_port()),
           "--multi_gpu", "--num_cpu_threads_per_process", "1",
           str(script), str(tmp_path / "plan.json"), str(tiny_model), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{i}.pt") for i in (0, 1))
    assert not torch.equal(r0["input_ids"], r1["input_ids"]), "each process trains its own shard"
    assert r0["lean"]["lean"] > 0 and r1["lean"]["lean"] > 0, "the lean head ran"
    assert r0["trl"]["lean"] == 0
    for r in (r0, r1):  # each process's own loss: the lean path's equals TRL's
        assert torch.allclose(r["lean"]["loss"], r["trl"]["loss"], atol=1e-5), (r["lean"]["loss"], r["trl"]["loss"])
    names = r0["lean"]["grads"].keys()
    assert any(not torch.equal(r0["lean"]["grads"][n], torch.zeros_like(r0["lean"]["grads"][n])) for n in names)
    for n in names:
        assert torch.equal(r0["lean"]["grads"][n], r1["lean"]["grads"][n]), f"{n}: not all-reduced"
        assert torch.allclose(r0["lean"]["grads"][n], r0["trl"]["grads"][n], atol=1e-5), n
    # The sabotage: the lean head run on the bare model (as before) skips DDP's all-reduce: each process alone.
    assert any(not torch.allclose(r0["alone"]["grads"][n], r1["alone"]["grads"][n], atol=1e-5) for n in names)


def test_a_cpu_job_takes_half_the_cores_while_the_engine_answers_and_says_so(topic_csv, tiny_model, tmp_path,
                                                                               monkeypatch):
    """Two processes each running torch's threads on every core slow each other far more than twice; the job
    holds a marker the engine sees, and sizes its threads to its share at every micro-batch (machine.py)."""
    from assistant import machine

    monkeypatch.setenv("TAILOR_CACHE", str(tmp_path / "cache"))  # the worker inherits it: its own share folder
    folder = machine.share_folder()
    reg = Registry(Home.resolve())
    job_id = jobs.submit(reg, make_plan(topic_csv, tiny_model, epochs=50))
    wait_for(lambda: reg.job(job_id).step >= 2)
    pid = reg.job(job_id).pid
    assert (folder / f"train-{job_id}-{pid}").exists(), "the engine must be able to see the job"
    engine = sleeper()
    try:
        mark(folder, "engine", engine)
        said = (f"sharing the CPU with the engine answering while it works: {max(1, machine.cores() // 2)} of "
                f"{machine.cores()} cores")
        wait_for(lambda: said in reg.logs(job_id, tail=50), timeout=30)
    finally:
        engine.kill()
        engine.wait()
    jobs.cancel(reg, job_id)
    wait_for(lambda: reg.job(job_id).status == "cancelled", timeout=30)
    wait_for(lambda: not jobs.is_worker_alive(pid), timeout=30)
    assert not (folder / f"train-{job_id}-{pid}").exists(), "the marker goes with the job"


def _support_chats(tmp_path, tiny_model, one_answer: int = 8):
    """A plan on support conversations of two answers each, then `one_answer` conversations of one answer."""
    import json

    from assistant.chat import converse

    two = [{"messages": [{"role": "user", "content": f"my order {i} is late"},
                         {"role": "assistant", "content": f"sorry about that, is it order {i}?"},
                         {"role": "user", "content": "yes"},
                         {"role": "assistant", "content": f"order {i} ships tomorrow"}]} for i in range(12)]
    one = [{"messages": [{"role": "user", "content": f"where is parcel {i}?"},
                         {"role": "assistant", "content": f"parcel {i} is at the depot"}]} for i in range(one_answer)]
    p = tmp_path / "support.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in two + one))
    return converse(["train a customer support chat assistant"], str(p), default_base_model=str(tiny_model)).plan


def test_every_assistant_turn_of_a_conversation_is_trained_and_one_answer_rows_stay_as_trl_makes_them(
        tiny_model, tmp_path):
    """A conversation with two answers trains both (each with the turns before it as context, as LLaMA-Factory and
    Axolotl do), not only the last; a row of one answer gets exactly the tokens and labels TRL's own preparation
    gives it, the held-out rows are labelled the same way, and the run trains."""
    from assistant.data import chat_examples

    plan = _support_chats(tmp_path, tiny_model)
    plan.training.max_steps, plan.training.batch_size = 2, 4
    examples = chat_examples(plan)
    reg = Registry(Home.resolve(tmp_path / "h"))
    job_id = reg.submit_job(reg.add_plan(plan.to_json()))
    said = []
    trainer = worker.build_trainer(plan, str(tiny_model), examples[:16], examples[16:], tmp_path / "out", reg, job_id,
                                   said.append, tmp_path / "log.jsonl", {"flag": False})
    tok = trainer.processing_class

    def trained(row):
        return tok.decode([t for t in row["labels"] if t != -100])

    assert trained(trainer.train_dataset[3]) == ("sorry about that, is it order 3?<|im_end|>\n"
                                                 "order 3 ships tomorrow<|im_end|>\n")
    assert trained(trainer.train_dataset[12]) == "parcel 0 is at the depot<|im_end|>\n"
    assert [trained(r) for r in trainer.eval_dataset] == [f"parcel {i} is at the depot<|im_end|>\n"
                                                          for i in (4, 5, 6, 7)]
    assert "every assistant turn is trained: 12 earlier answers in 12 conversations besides each row's last" in said

    trls = worker.build_trainer(plan, str(tiny_model), examples[12:16], [], tmp_path / "trl", reg, job_id, print,
                                tmp_path / "log2.jsonl", {"flag": False})  # no earlier answer: TRL tokenizes
    assert [(r["input_ids"], r["labels"]) for r in trls.train_dataset] == \
        [(r["input_ids"], r["labels"]) for r in trainer.train_dataset.select(range(12, 16))]
    trainer.train()
    losses = [m["loss"] for m in reg.metrics(job_id) if m["loss"] is not None]
    assert len(losses) == 2 and all(0 < x < 20 for x in losses)
    plan.training.packing, plan.training.max_length = True, 256  # packed rows keep every answer's labels
    packed = worker.build_trainer(plan, str(tiny_model), examples[:12], [], tmp_path / "packed", reg, job_id, print,
                                  tmp_path / "log3.jsonl", {"flag": False})
    assert len(packed.train_dataset) < 12 and all(trained(r).count("sorry about that") == trained(r).count("ships")
                                                  >= 1 for r in packed.train_dataset)


def test_an_earlier_answer_the_template_renders_otherwise_in_the_history_stays_context():
    """Where the chat template renders an earlier answer differently than as the last turn (as templates that
    drop earlier reasoning do), or asks for it with a generation prompt the history does not hold, its tokens in
    the conversation are not the answer the model would give: it stays context, counted; an empty answer and a
    greeting before the user spoke stay context too."""
    from transformers import AutoTokenizer

    from assistant.train.turns import every_turn
    from helpers import smol_tokenizer_dir

    tok = AutoTokenizer.from_pretrained(smol_tokenizer_dir())
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' and not "
                         "loop.last %}(earlier answer){% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello, what can I do?"},
            {"role": "user", "content": "track my parcel"}]
    turns = every_turn(tok, [{"prompt": chat, "completion": [{"role": "assistant", "content": "it is at the depot"}]}])
    row = turns.rows[0]
    assert tok.decode([t for t, m in zip(row["input_ids"], row["completion_mask"]) if m]) == \
        "it is at the depot<|im_end|>\n"
    assert (turns.conversations, turns.answers, turns.context_only) == (1, 0, 1)
    assert "1 earlier answers stay context only" in turns.summary()

    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant (thinking)\n{% endif %}")
    dated = every_turn(tok, [{"prompt": chat, "completion": [{"role": "assistant", "content": "it is at the depot"}]}])
    assert (dated.answers, dated.context_only) == (0, 1), "a generation prompt the history does not hold"
    greeted = [{"role": "assistant", "content": "Hi! How can I help?"}, {"role": "user", "content": "a refund"},
               {"role": "assistant", "content": ""}, {"role": "user", "content": "please"}]
    last = [{"role": "assistant", "content": "done"}]
    assert every_turn(tok, [{"prompt": greeted, "completion": last}]) is None  # nothing but the last to train


def test_held_out_rows_that_the_data_repeats_are_counted_and_said(tiny_model, tmp_path):
    """Split row by row (a plan made before grouping), a row the data repeats lands on both sides, and the adapter
    is then scored on rows it was trained on: the job counts them (`held_out_seen`), its log warns, and the chat's
    message and the adapter's page say the held-out scores flatter it. The planner's plans keep them together."""
    from assistant.data import chat_examples, split_examples
    from assistant.registry.store import adapter_page
    from assistant.train.outcome import outcome
    from helpers import WORDS
    from ui.registry_tab import adapter_card

    data = tmp_path / "topics.csv"
    rows = [f"item {i}: the {WORDS[label][i % 5]} again,{label}" for i, label in
            enumerate(label for _ in range(10) for label in WORDS)]
    data.write_text("text,label\n" + "\n".join(rows + ["the goal and the team,sports"] * 12) + "\n", encoding="utf-8")
    plan = make_plan(data, tiny_model, max_steps=1)
    plan.data.group_inputs = False  # a plan made before the split kept repeated rows together (or by hand)
    d = plan.data
    train, val = split_examples(chat_examples(plan), d.validation_fraction, d.split_seed, d.stratify)
    repeated = sum(e["prompt"][-1]["content"] == "the goal and the team" for e in val)
    assert 0 < repeated < 12
    reg = Registry(Home.resolve())
    job_id = jobs.submit(reg, plan)
    wait_for(lambda: reg.job(job_id).status not in ("queued", "running"), timeout=180)
    rec = reg.adapter_by_id(reg.job(job_id).adapter_id)
    assert rec.metrics["held_out_seen"] == repeated and rec.metrics["held_out_scored"] == len(val)
    assert f"warning: {repeated} of {len(val)} held-out rows ask what a training row asks" in \
        "\n".join(reg.logs(job_id, tail=200))
    assert f"{repeated} of the {len(val)} held-out rows ask what a training row asks (your data repeats them), so " \
           "these scores flatter the adapter" in outcome(reg, job_id)
    assert f"{repeated} of the {len(val)} held-out rows ask what a training row asks" in \
        adapter_card(adapter_page(reg, rec.label))
    plan.data.group_inputs = True  # as the planner makes it: no held-out row repeats a training input
    grouped = jobs.submit(reg, plan)
    wait_for(lambda: reg.job(grouped).status not in ("queued", "running"), timeout=180)
    metrics = reg.adapter_by_id(reg.job(grouped).adapter_id).metrics
    assert "held_out_seen" not in metrics and metrics["held_out_scored"] > 0
