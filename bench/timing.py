"""Timing helpers shared by the benchmark scripts (run them as `python bench/NAME.py`, so this folder is on
the path)."""

import time
import torch


def median_time(fn, repeats, warmup=2):
    "Median wall time of `fn()` over `repeats` runs, after `warmup` untimed runs."
    ts = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def train_step_fn(model, batch, g):
    "One optimiser step of `model.loss` on `batch` (AdamW over the trainable parameters), as a callable."
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step():
        out = model.loss(batch, generator=g)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()

    return step
