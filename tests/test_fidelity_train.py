"""Fidelity of the learned LADD machinery: the EMA copy of the weights, dead-code restarts of the
codebook, and models rebuilt from checkpoints. Each test states what the authors' implementation does and
checks ours against it."""

import json
import pytest, torch
import torch.nn as nn
from ladd_nb.core import make_generator
from ladd_nb.presets import PRESETS, model_from_checkpoint, shipped_checkpoint, train_preset
from ladd_nb.vq import VectorQuantizer

# ---- Defect 2: the EMA copy averages trainable parameters only ---------------------------------------------


def test_ema_update_averages_only_trainable_parameters(seed):
    "One EMA step from known states: trainable e <- l e + (1 - l) p; frozen parameters and buffers copied."
    from ladd_nb.train import ema_update
    from torch.optim.swa_utils import AveragedModel

    g = make_generator(seed)
    live = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = AveragedModel(live)
    ema_update(ema, live, 0.9)  # the first update copies everything
    with torch.no_grad():
        for t in [*live.parameters(), live[2].running_mean]:
            t.add_(torch.randn(t.shape, generator=g))
    live[1].requires_grad_(False)  # frozen, as the encoder in stage 2
    before = [t.clone() for t in ema.module.parameters()]
    ema_update(ema, live, 0.9)
    for e, b, p in zip(ema.module.parameters(), before, live.parameters()):
        want = 0.9 * b + 0.1 * p if p.requires_grad else p
        torch.testing.assert_close(e, want, rtol=0, atol=1e-6)
    for e, b in zip(ema.module.buffers(), live.buffers()):
        assert torch.equal(e, b)
    assert int(ema.n_averaged) == 2  # the checkpoints' `ema` format is kept


def test_ema_keeps_the_live_codebook(seed, tmp_path):
    """Di-LADD trained through the Trainer with cosine codes and ema=0.99, into stage 2. The authors' EMA
    copies buffers, so the EMA codebook is the live one: rows of norm 1 (cosine), identical counts and sums,
    identical codes for the same encoder output. The encoder, frozen in stage 2, is copied; the denoiser is
    averaged."""
    opts = [
        "train_steps=240",
        "stage1_steps=160",
        "batch_size=256",
        "cosine=true",
        "ema=0.99",
        "log_every=1000",
        f"seed={seed}",
    ]
    tr = train_preset("toy2d-diladd", opts, out_dir=tmp_path, progress=False, log=lambda *a: None)
    live, ema = tr.model, tr.ema.module
    norms = ema.vq.codebook.norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms), rtol=0, atol=1e-5)
    for (name, e), (_, b) in zip(ema.named_buffers(), live.named_buffers()):
        assert torch.equal(e, b), name
    for (name, e), (_, p) in zip(ema.encoder.named_parameters(), live.encoder.named_parameters()):
        assert torch.equal(e, p), f"frozen encoder parameter {name} must be copied"
    assert any(not torch.equal(e, p) for e, p in zip(ema.net.parameters(), live.net.parameters()))
    x0 = PRESETS["toy2d-diladd"].data(tr.cfg)(make_generator(seed + 1), 4096)
    with torch.no_grad():
        z_e = live.encoder(x0)
    assert torch.equal(ema.vq.quantize(z_e), live.vq.quantize(z_e))


# ---- Defect 3: dead-code restarts relative to the mean count per code --------------------------------------


def _restart_fraction(
    batch: int, g: torch.Generator, warmup: int = 100, steps: int = 100, **vq_options
) -> float:
    "Codes restarted per step (a fraction of 511) on stationary data from 64 clusters, after `warmup` steps."
    grid = torch.arange(8.0)
    centres = 10 * torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).reshape(64, 2)  # 10 sd apart
    vq = VectorQuantizer(511, 2, **vq_options).train()  # LADD's binsaw codebook size
    restarted = 0
    for step in range(warmup + steps):
        z = centres[torch.randint(64, (batch,), generator=g)] + torch.randn(batch, 2, generator=g)
        vq(z, generator=g)
        if step >= warmup:
            restarted += vq.restarted
    return restarted / steps / 511


# Theory. A code that takes a share p of the data has an expected EMA count p B at batch B. The relative
# threshold is f B / C, so a code is restarted when p < f / C whatever B: the restart rate does not depend
# on the batch (to first order). What is left at a small batch is the Poisson noise of the counts: at
# B = 256 a code of mean share gets 256 / 511 = 0.5 vectors a step, and the EMA (decay 0.95) of such counts
# has relative standard deviation sqrt((1 - 0.95) / ((1 + 0.95) 0.5)) = 0.23, so the threshold at half the
# mean is 2.2 standard deviations below it and a few per cent of the codes dip under it each step; at
# B = 2,048 it is 6 standard deviations below. Measured over 20 seeds: 3.8 % (sd 0.23 %) at B = 256,
# 0.28 % (sd 0.05 %) at B = 2,048 (a rate of ~8 % reported for the authors' batch is on other data: on
# these 64 clusters the authors' absolute threshold at B = 2,048 restarts 0.13-0.28 %). The old absolute
# threshold of 2 is 4 times the mean count at B = 256 and restarts 85 % (sd 0.07 %) of the codes every
# step. The bound of 10 % is more than 25 standard deviations from each of these.
RATE_MAX = 0.10


def test_restart_rate_does_not_depend_on_the_batch(seed):
    small = _restart_fraction(256, make_generator(seed), dead_fraction=0.5)
    large = _restart_fraction(2048, make_generator(seed + 1), dead_fraction=0.5)
    assert small < RATE_MAX and large < RATE_MAX, (small, large)
    assert abs(small - large) < RATE_MAX, (small, large)


def test_dead_fraction_reproduces_ladds_threshold():
    "dead_fraction = 0.5 at LADD's 2,048 vectors and 511 codes is a threshold of 2, half the mean count of 4."
    vq = VectorQuantizer(511, 2, dead_fraction=0.5, kmeans_init=False)
    torch.testing.assert_close(vq.dead_threshold_at(2048), 0.5 * 2048 / 511)
    assert abs(vq.dead_threshold_at(2048) - 2) < 0.01


# ---- Defect 5: a model rebuilt from a checkpoint is in the stage its run reached ---------------------------


@pytest.mark.parametrize(
    "name",
    ["toy2d-diladd-checkerboard", "toy2d-coladd-checkerboard-joint", "toy2d-coladd-checkerboard-sequential"],
)
def test_checkpoint_model_is_in_its_stage(name, seed):
    "The shipped LADD checkpoints were trained past `stage1_steps`: the rebuilt model is in stage 2."
    model, cfg, p = model_from_checkpoint(shipped_checkpoint(name))
    assert model.stage == 2
    if hasattr(model, "vq"):
        assert model.vq.frozen  # Di-LADD: the codebook is frozen in stage 2
    g = make_generator(seed)
    out = model.loss(p.data(cfg)(g, 256), generator=g)
    assert "nelbo_y" in out  # stage 2 trains the latent channel


def test_checkpoint_with_retired_dead_threshold_loads(tmp_path):
    """Checkpoints made before the rename carry the absolute `dead_threshold` in their config; a preset whose
    config no longer has that key must still rebuild the model (the key steered training only)."""
    from dataclasses import asdict
    from ladd_nb.train import FORMAT, save_checkpoint

    model, cfg, _ = model_from_checkpoint(shipped_checkpoint("toy2d-mdlm-checkerboard"))
    meta = json.dumps({"preset": "toy2d-mdlm", "config": asdict(cfg) | {"dead_threshold": 2.0}})
    ck = dict(format=FORMAT, step=1000, meta=meta, train_config="{}", model=model.state_dict())
    save_checkpoint(ck | dict(ema=None, optimizer=None, scheduler=None, rng=None), tmp_path / "old.pt")
    model, cfg, _ = model_from_checkpoint(tmp_path / "old.pt")
    assert not hasattr(cfg, "dead_threshold")
