"""LeanSFTTrainer: TRL's SFTTrainer with a leaner loss path. Every use of TRL's private attributes is in
this file, checked against TRL 1.16.0 (`padding_free`, `aux_loss_enabled`, `_metrics`,
`_total_train_tokens`, `_tp_size`, `data_collator.padding_free` / `return_position_ids`) and transformers 5.17
and 5.24 (the Trainer's `_clip_grad_norm` and `_get_grad_norm`, overridden to clip the fp32 master gradients); a
TRL or transformers upgrade is checked here first (tests/test_train.py compares this path's loss and gradients
with TRL's own).
"""

from __future__ import annotations

from ..models.estimate import HEAD_CHUNK_ELEMENTS

TRAINED = "_tailor_trained_positions"
"""The batch key carrying the flat indices of the trained positions, found on the host by the data collator."""
NO_PADDING = "_tailor_no_padding"
"""The batch key saying the attention mask is all ones (seen on the host): the lean path leaves it out."""
ONE_EXAMPLE = "_tailor_one_example_a_row"
"""The batch key saying each packed row's positions run 0, 1, 2, … to its end (seen on the host): one example
a row, so the lean path leaves the positions out and attention is plainly causal."""


def fp32_trained(model) -> int:
    """Under fp16 every trained tensor in fp32 (how many were cast): TRL casts QLoRA's adapters to bf16, which under
    fp16 autocast would step without master copies (an update below bf16's resolution is lost), and fp16's loss
    scaler unscales only fp32 gradients. Only on cards without bf16 does a plan train in fp16."""
    import torch

    cast = 0
    for p in model.parameters():
        if p.requires_grad and p.dtype in (torch.bfloat16, torch.float16):
            p.data, cast = p.data.float(), cast + 1
    return cast


def lean_trainer_class():
    """TRL's SFTTrainer with a leaner loss: the LM head runs only on the positions that are trained.

    With completion-only loss a classification example trains 2-3 of its ~50 tokens. TRL's fused LM head
    already skips the others, but in fixed tiles that on a CPU cost more than the whole backbone's backward
    (profiled: 2.3 s of a 6.5 s step for 8 short rows). Here the hidden states of the trained positions are
    gathered and projected in small matmuls; the loss is the same token-summed cross-entropy divided by the
    same token count as TRL's (so gradient accumulation is unchanged). Final logit soft-capping (Gemma 2) is
    applied per chunk; models with other logit scaling, auxiliary losses or custom loss functions take TRL's own
    path. Data-parallel runs (DDP, one process per GPU) take this path too, run inside DDP's forward so that the
    gradients are all-reduced (calling the backbone directly would skip it: each process would train alone).

    - Many trained positions (long answers, packed rows on a GPU) run through the head in chunks of at most
      `head_chunk_elements` logits, each recomputed in the backward pass, so the logits of a whole batch
      (tokens × vocabulary, gigabytes for a 150k vocabulary) never exist at once.
    - Packed batches keep their rows (`row_packing`): TRL's padding-free collator would concatenate a batch of
      8 packed rows of 2,048 tokens into one row of 16,384, and with SDPA (no varlen flash kernel) attention then
      costs (8·2048)² instead of 8·2048² score entries — 8× the attention work and a 16k² mask. Here each packed
      row stays a batch row with `position_ids` restarting at every example, masked block-diagonally:
      examples do not see each other (tested against each example run alone). Padding at a row's end is its own
      masked "sequence" with no labels. With SDPA and full attention the mask is built here from the positions,
      as transformers builds it, because transformers would first ask the device whether the rows hold more
      than one example (a wait each micro-batch); the host has seen the positions, and a batch of one example a
      row leaves them out (plain causal attention, as transformers would choose).
    - The backbone and head run under the accelerator's autocast, as TRL's own path does (accelerate wraps
      only the top-level forward, which this path does not call).
    - Metrics stay on the device: accuracy and token counts are turned into numbers once per logging step,
      not once per step (each `.item()` waits for the GPU). The trained positions are found on the host, from
      the batch's labels in the data collator, before the batch moves to the device: selecting them with a boolean
      mask on the GPU would wait for it once per micro-batch to learn how many there are. An attention mask
      of all ones is left out for the same reason (transformers asks the device whether it is all ones, to use
      SDPA's causal kernel); a padded batch gets the causal 4-D mask transformers would build, built here.
      On a GPU the plan also turns off the trainer's per-step token count and NaN check (recipe.py), so a step
      between logging steps never waits for the device.
    """
    import torch
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel
    from trl import SFTTrainer

    class LeanSFTTrainer(SFTTrainer):
        head_chunk_elements = HEAD_CHUNK_ELEMENTS
        """Most logits alive at once (2^26: 640 MiB with their fp32 copies, 441 positions of a 152k vocabulary)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            attn = getattr(self.model.config, "_attn_implementation", None)
            self.row_packing = bool(self.args.packing and self.padding_free and self._lean_model_ok(self.model)
                                    and attn in ("sdpa", "eager"))
            """Packed rows stay batch rows (see the class notes); False where a varlen kernel or TRL's path runs."""
            if self.row_packing:
                self.data_collator.padding_free = False
                self.data_collator.return_position_ids = True
            self.data_collator = _with_host_indices(self.data_collator)
            cfg = self.model.config
            sliding = any(t != "full_attention" for t in (getattr(cfg, "layer_types", None) or [])) or (
                getattr(cfg, "sliding_window", None) is not None and getattr(cfg, "use_sliding_window", True))
            self.own_causal_mask = attn == "sdpa" and not sliding
            """A padded batch's causal 4-D mask is built here (no wait for the device) only where it is exactly what
            transformers would build: SDPA (a boolean mask means "attend"), every layer full attention."""

        def _lean_model_ok(self, model) -> bool:
            model = _unwrapped(model)
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            cfg = base.config
            scaled = any(getattr(cfg, a, None) is not None for a in ("logit_scale", "output_multiplier",
                                                                     "lm_head_multiplier", "logits_scaling"))
            return (not scaled and not self.aux_loss_enabled and self.compute_loss_func is None
                    and self.label_smoother is None and cfg.get_text_config() is cfg and self.args.loss_type == "nll")

        def _lean_ok(self, model, inputs) -> bool:
            return ("labels" in inputs and ("attention_mask" in inputs or "position_ids" in inputs)
                    and self._lean_model_ok(model))

        def _head_loss(self, head, hidden, targets, softcap=None):
            """(sum of token cross-entropies, number predicted right) with at most `head_chunk_elements` logits;
            `softcap`: the model's final logit soft-capping (Gemma 2: cap · tanh(logits / cap)), applied per chunk."""
            chunk = max(1, self.head_chunk_elements // head.weight.shape[0])

            def piece(h, t):
                logits = head(h).float()
                if softcap is not None:
                    logits = torch.tanh(logits / softcap) * softcap
                return F.cross_entropy(logits, t, reduction="sum"), (logits.argmax(-1) == t).sum()

            if hidden.shape[0] <= chunk:
                return piece(hidden, targets)
            from torch.utils.checkpoint import checkpoint

            total, correct = hidden.new_zeros((), dtype=torch.float32), targets.new_zeros(())
            for i in range(0, hidden.shape[0], chunk):
                loss, right = checkpoint(piece, hidden[i:i + chunk], targets[i:i + chunk], use_reentrant=False)
                total, correct = total + loss, correct + right
            return total, correct

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = dict(inputs)
            trained, no_padding = inputs.pop(TRAINED, None), inputs.pop(NO_PADDING, False)
            one_example = inputs.pop(ONE_EXAMPLE, False)
            real = None
            if self.row_packing and "position_ids" in inputs and "attention_mask" in inputs:
                # A mask would switch off transformers' packed-sequence masking; the positions carry the boundaries.
                inputs = dict(inputs)
                real = inputs.pop("attention_mask")
            if return_outputs or not self._lean_ok(model, inputs):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            mode = "train" if self.model.training else "eval"
            inner = _unwrapped(model)
            base = inner.get_base_model() if hasattr(inner, "get_base_model") else inner
            backbone = getattr(base, base.base_model_prefix)
            kwargs = {k: v for k, v in inputs.items() if k not in ("labels", "completion_mask", "assistant_masks")}
            kwargs["use_cache"] = False  # a cache would also switch off the packed-sequence masking
            if "position_ids" not in kwargs and getattr(kwargs.get("attention_mask"), "dim", lambda: 0)() == 2:
                # transformers asks the device whether a 2-D mask is all ones (a wait, twice a forward). All ones,
                # as the host saw, it is left out; with padding (SDPA, full attention) the causal 4-D mask is built
                # here, on the device, as transformers would build it, and used as given.
                real = kwargs.pop("attention_mask")
                if not no_padding and not self.own_causal_mask:
                    kwargs["attention_mask"] = real  # transformers builds it (and asks the device once or twice)
                elif not no_padding:
                    kwargs["attention_mask"] = _causal(real.shape[1], real.device) & real.bool()[:, None, None, :]
            packed = self.row_packing and "position_ids" in kwargs and "attention_mask" not in kwargs
            if packed and self.own_causal_mask:
                # transformers would find the examples' boundaries from the positions and ask the device whether
                # there are any (a wait, each micro-batch). The host has seen them: one example a row, the
                # positions are left out (the causal kernel, as transformers would choose); else the block-diagonal
                # causal mask is built here, on the device, as transformers builds it.
                if one_example:
                    del kwargs["position_ids"]
                else:
                    kwargs["attention_mask"] = _block_causal(kwargs["position_ids"])
            labels = inputs["labels"]
            mask = labels[:, 1:] != -100
            if trained is None:  # a batch not from this trainer's collator: found on the device
                rows, cols = mask.nonzero(as_tuple=True)
                trained = rows * labels.shape[1] + cols
            picked = labels.reshape(-1).index_select(0, trained + 1)  # each trained position's next token

            def lean_forward(**kw):
                with self.accelerator.autocast():
                    hidden = backbone(**kw).last_hidden_state
                    hidden = hidden.reshape(-1, hidden.shape[-1]).index_select(0, trained)
                    return self._head_loss(base.get_output_embeddings(), hidden, picked,
                                           getattr(base.config, "final_logit_softcapping", None))

            if inner is model:
                total, correct = lean_forward(**kwargs)
            else:  # data parallel: through DDP's forward, which readies its gradient all-reduce for the backward
                total, correct = _through(model, inner, lean_forward, kwargs)
            num_tokens = mask.sum() if num_items_in_batch is None else num_items_in_batch
            loss = total / torch.as_tensor(num_tokens).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())
            with torch.no_grad():
                valid = self.accelerator.gather_for_metrics(mask.sum()).sum()
                right = self.accelerator.gather_for_metrics(correct.detach()).sum()
                self._metrics[mode]["mean_token_accuracy"].append(right / valid.clamp(min=1))
                if mode == "train":
                    if real is None:
                        real = inputs.get("attention_mask")
                    seen = real.sum() if real is not None else \
                        torch.tensor(inputs["position_ids"].size(1), device=inputs["position_ids"].device)
                    self._total_train_tokens = self._total_train_tokens + \
                        self.accelerator.gather_for_metrics(seen).sum() // self._tp_size
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return loss

        master_weights = True
        """Under bf16 the trained tensors are bf16 with fp32 masters in the optimizer (`master_weights.py`)."""

        def create_optimizer(self, model=None):
            fresh = self.optimizer is None
            if fresh and self.args.fp16:
                fp32_trained(self.model)
            optimizer = super().create_optimizer(model)
            if fresh and self.master_weights and self.args.bf16:
                from .master_weights import MasterWeights

                self.masters = MasterWeights(optimizer, torch.bfloat16)
            return optimizer

        def training_step(self, model, inputs, *args, **kwargs):
            loss = super().training_step(model, inputs, *args, **kwargs)
            if getattr(self, "masters", None) is not None and _unwrapped(model) is model:
                # Each micro-batch's gradients into the fp32 sums (DDP's are gathered once, after its all-reduce).
                self.masters.gather_gradients()
            return loss

        def _clip_grad_norm(self, model):
            if getattr(self, "masters", None) is None:
                return super()._clip_grad_norm(model)
            self.masters.gather_gradients()  # clipped and measured in fp32, on what the optimizer will step with
            return torch.nn.utils.clip_grad_norm_(self.masters.trained(), self.args.max_grad_norm)

        def _get_grad_norm(self, model, grad_norm=None):
            if grad_norm is None and getattr(self, "masters", None) is not None:
                self.masters.gather_gradients()
                grad_norm = torch.nn.utils.get_total_norm(
                    [p.grad for p in self.masters.trained() if p.grad is not None])
            return super()._get_grad_norm(model, grad_norm)

        def train(self, *args, **kwargs):
            if getattr(self, "masters", None) is not None:
                self.masters.clear()  # the trainer zeroes the model's gradients as training begins: the sums too
            try:
                return super().train(*args, **kwargs)
            finally:  # the adapter is saved from fp32 weights, as without masters
                if getattr(self, "masters", None) is not None:
                    self.masters.restore()

        def log(self, logs, start_time=None):
            # The step metrics were kept as device tensors; one transfer per log instead of one per step.
            for metrics in self._metrics.values():
                for key, values in metrics.items():
                    metrics[key] = [v.item() if isinstance(v, torch.Tensor) else v for v in values]
            if isinstance(self._total_train_tokens, torch.Tensor):
                self._total_train_tokens = int(self._total_train_tokens.item())
            if self.args.include_num_input_tokens_seen in ("no", False, None):
                # The trainer's own count (one `.item()` a step) is off on a GPU: the tokens seen since the last
                # log come from this trainer's count, kept on the device until now.
                seen = int(self._total_train_tokens)
                self.state.num_input_tokens_seen = (self.state.num_input_tokens_seen or 0) + \
                    seen - getattr(self, "_tokens_logged", 0)
                self._tokens_logged = seen
            return super().log(logs, start_time)

    def _unwrapped(model):
        return model.module if isinstance(model, DistributedDataParallel) else model

    def _through(wrapper, inner, forward, kwargs):
        """`forward(**kwargs)` run as `inner`'s forward inside the DDP `wrapper`'s. Calling the backbone directly
        would skip DDP's forward, and with it the all-reduce of the gradients: each process would train alone."""
        own = inner.__dict__.get("forward")  # accelerate's autocast wrapper, when there is one
        inner.forward = forward
        try:
            return wrapper(**kwargs)
        finally:
            if own is None:
                del inner.forward
            else:
                inner.forward = own

    def _causal(n: int, device):
        """The causal mask of `n` positions, (1, 1, n, n), True where a position may attend."""
        return torch.ones(n, n, dtype=torch.bool, device=device).tril()[None, None]

    def _block_causal(positions):
        """The 4-D boolean mask (True: attend) of packed rows whose `positions` restart at each example: causal
        within an example, nothing across — transformers' own (`find_packed_sequence_indices`, `sdpa_mask`)."""
        example = (torch.diff(positions, prepend=positions[:, :1] - 1, dim=-1) != 1).cumsum(-1)
        return _causal(positions.shape[1], positions.device) & (example[:, None, :, None] == example[:, None, None, :])

    def _with_host_indices(collate):
        def collate_with_indices(features):
            batch = collate(features)
            labels, mask = batch.get("labels"), batch.get("attention_mask")
            if isinstance(labels, torch.Tensor) and labels.dim() == 2:
                # Flat indices (row * length + position) of the hidden states whose next token is trained.
                rows, cols = (labels[:, 1:] != -100).nonzero(as_tuple=True)
                batch[TRAINED] = rows * labels.shape[1] + cols
                if isinstance(mask, torch.Tensor) and bool(mask.all()):
                    batch[NO_PADDING] = True  # transformers checks it on the device (twice) unless it is left out
            positions = batch.get("position_ids")
            if isinstance(positions, torch.Tensor) and positions.dim() == 2:
                batch[ONE_EXAMPLE] = bool((positions == torch.arange(positions.shape[1])).all())
            return batch

        collate_with_indices.collator = collate  # TRL's own, for whoever needs its settings
        return collate_with_indices

    return LeanSFTTrainer
