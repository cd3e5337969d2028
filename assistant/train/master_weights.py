"""Trained weights in the compute dtype, fp32 master copies in the optimizer.

PEFT keeps LoRA factors in fp32 under a bf16 base, so under autocast every LoRA layer casts its two factors to
bf16 in each forward, its input to fp32 and back, and each factor's gradient back to fp32 in each backward: on
the H100 profile of issue 17 these dtype copies were 23% of the step's GPU time. The values are the same either
way — autocast computes the matmuls in bf16 from the bf16-rounded factors — so the factors themselves can be
bf16, as long as the optimizer updates fp32 copies (a bf16 weight cannot hold an update of lr × gradient, a
thousand times smaller than the weight). `MasterWeights` does that around any torch optimizer:

- at creation each fp32 trained tensor gets an fp32 master copy, which replaces it in the optimizer, and the
  model's tensor becomes bf16; a trained tensor that is bf16 already (TRL casts QLoRA's adapters to bf16) gets
  one too, so that its updates are not rounded away as a bf16 optimizer would (AdamW's state is fp32 with it);
- after each micro-batch's backward pass (`gather_gradients`, called by the trainer) the model's bf16 gradients
  are added into fp32 sums, which are the masters' gradients, and dropped: gradient accumulation sums in fp32,
  so each micro-batch's gradient is rounded to bf16 once (by the matmul that made it) instead of the running sum
  being rounded at every addition (with 16 micro-batches the bf16 sum's error grows to ~16 roundings). Gradient
  clipping and the logged gradient norm are computed from these fp32 sums (`trained()`); a data-parallel run
  gathers once, before clipping, as DDP all-reduces the bf16 sum it accumulated under `no_sync`;
- after the step the masters are copied back into the model's tensors, and the sums zeroed;
- the optimizer's state dict carries the masters (`tailor_masters`), so a resumed run continues from the
  exact fp32 weights rather than from the bf16 checkpoint;
- `restore()` gives the model its fp32 weights back at the end, so the saved adapter is fp32 as before (the
  best checkpoint's weights where the trainer loaded them at the end, rather than the last step's masters).

bf16 only, never fp16 (its gradient scaler unscales the optimizer's own tensors). Memory: 2 + 2 bytes per
trained value for the weight and its gradient, 4 for the master, 4 for the master's fp32 gradient sum (kept
between steps, not reallocated), 8 for AdamW's state: 20 bytes, against 16 + 2 (the autocast copy) for fp32
factors under autocast.
"""

from __future__ import annotations

MASTERS_KEY = "tailor_masters"


class MasterWeights:
    def __init__(self, optimizer, dtype):
        import torch

        self.optimizer, self.dtype = optimizer, dtype
        self.pairs: list[tuple] = []
        self.sums: list | None = None
        """The masters' fp32 gradient sums, one a pair, allocated at the first gradient and zeroed after each step."""
        for group in optimizer.param_groups:
            kept = []
            for p in group["params"]:
                if p.dtype in (torch.float32, dtype):
                    master = p.detach().to(torch.float32, copy=True)
                    self.pairs.append((p, master))
                    p.data = p.data.to(dtype)
                    kept.append(master)
                else:
                    kept.append(p)
            group["params"] = kept
        optimizer.register_step_pre_hook(self._gradients_in)
        optimizer.register_step_post_hook(self._weights_out)
        optimizer.register_state_dict_post_hook(self._save)
        optimizer.register_load_state_dict_pre_hook(self._load)

    def __len__(self) -> int:
        return len(self.pairs)

    def gather_gradients(self) -> None:
        """Adds the model's gradients into the masters' fp32 sums and drops them (the next backward pass starts
        each afresh). A master whose tensor got no gradient keeps none, as the optimizer expects."""
        import torch

        got = [i for i, (p, _) in enumerate(self.pairs) if p.grad is not None]
        if not got:
            return
        if self.sums is None:
            self.sums = [torch.zeros_like(master) for _, master in self.pairs]
        with torch.no_grad():
            torch._foreach_add_([self.sums[i] for i in got], [self.pairs[i][0].grad for i in got])
        for i in got:
            p, master = self.pairs[i]
            p.grad = None  # the next backward pass makes a fresh one rather than adding into it
            if master.grad is None:
                master.grad = self.sums[i]

    def trained(self) -> list:
        """What the optimizer updates (the masters, and any trained tensor without one), for clipping and the
        gradient norm: after `gather_gradients` their gradients are the step's whole fp32 sums."""
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def clear(self) -> None:
        """Drops any gradient gathered so far (the trainer zeroes the model's before training begins)."""
        import torch

        if self.sums is not None:
            torch._foreach_zero_(self.sums)
        for _, master in self.pairs:
            master.grad = None

    def _gradients_in(self, optimizer, args, kwargs) -> None:
        self.gather_gradients()

    def _weights_out(self, optimizer, args, kwargs) -> None:
        import torch

        with torch.no_grad():
            for p, master in self.pairs:
                p.copy_(master)
        self.clear()

    def _save(self, optimizer, state_dict):
        state_dict[MASTERS_KEY] = [master for _, master in self.pairs]
        return state_dict

    def _load(self, optimizer, state_dict):
        import torch

        masters = state_dict.pop(MASTERS_KEY, None)
        if masters is not None and len(masters) == len(self.pairs):
            with torch.no_grad():
                for (p, master), saved in zip(self.pairs, masters):
                    master.copy_(saved)
                    p.copy_(saved)
        return state_dict

    def restore(self) -> None:
        """The model's trained tensors back in fp32: the masters' values, unless the trainer has loaded other
        weights since the last step (the best checkpoint, with early stopping), which are kept."""
        import torch

        for p, master in self.pairs:
            p.data = master.detach().clone() if torch.equal(p, master.to(p.dtype)) else p.data.to(torch.float32)
