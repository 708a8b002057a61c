"""The masked sampler's skip rules (issue 16): the same samples as calling the network at every step, fewer
sequence evaluations, and clear errors where skipping would be wrong."""

import pytest
import torch
from ladd_nb.core import make_generator
from ladd_nb.dit import DiT, JointDiT, LatentDiT
from ladd_nb.masked import MDLM, MaskedProcess, RowDenoiser, SKIP_RULES, TableDenoiser, sample_masked
from ladd_nb.coladd import CoLADD, DiTEncoder
from ladd_nb.vq import VectorQuantizer
from ladd_nb.diladd import DiLADD

V, L = 11, 24


def perturbed(model, seed=0):
    "Random non-zero weights everywhere (the zero-initialised heads would make every prediction uniform)."
    g = make_generator(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model.eval()


def evals_from_trajectory(traj, mask_id) -> int:
    "Independent count of the per-sequence rule: 1 per row, +1 per step that changed it and left a mask."
    changed = (traj[1:-1] != traj[:-2]).any(-1)
    masked_after = (traj[1:-1] == mask_id).any(-1)
    return traj.shape[1] + int((changed & masked_after).sum())


def test_mdlm_dit_rules_draw_the_same_samples():
    torch.manual_seed(0)
    m = perturbed(MDLM(DiT(V, "tiny"), V, L))
    assert m.time_free  # DiT(time_cond=False) declares it
    runs = {
        s: m.sample(12, steps=48, skip=s, return_trajectory=True, generator=make_generator(3))
        for s in SKIP_RULES
    }
    for s in SKIP_RULES:
        assert torch.equal(runs[s].trajectory, runs["none"].trajectory), s
    assert runs["none"].nfe == {"token": 49} and runs["none"].evals == {"token": 12 * 49}
    seq = runs["sequence"]
    assert seq.evals["token"] == evals_from_trajectory(seq.trajectory, m.process.mask_id)
    assert seq.evals["token"] <= 12 * L  # at most L states with a mask per row
    assert runs["batch"].evals["token"] == 12 * runs["batch"].nfe["token"]  # all rows or none
    # MDLM's rule, recounted: the first call, one after each step that changed some row, and the final call
    traj = runs["batch"].trajectory
    changed = (traj[1:-2] != traj[:-3]).flatten(1).any(1)  # steps 1..K-1
    assert runs["batch"].nfe["token"] == 2 + int(changed.sum())


def test_batch_rule_is_mdlms_cached_sampler():
    "Few rows, many steps: calls only after steps that changed some row, plus the final call, as MDLM does."
    process = MaskedProcess(V)
    uniform = RowDenoiser(lambda x, t: torch.zeros(*x.shape, V), time_free=True)
    r = sample_masked(
        uniform, process, 2, 8, 256, skip="batch", return_trajectory=True, generator=make_generator(8)
    )
    changed = (r.trajectory[1:-2] != r.trajectory[:-3]).flatten(1).any(1)  # steps 1..K-1
    assert r.nfe["token"] == 2 + int(changed.sum()) <= 2 + 2 * 8  # at most 2 x 8 steps can reveal something


@pytest.mark.parametrize("temperature,last,grid", [(1.0, "sample", "uniform"), (0.6, "greedy", "cosine")])
def test_table_oracle_rules_agree_under_every_option(temperature, last, grid):
    "Exact oracle, so bit-identical: temperature, greedy last step and cosine grid do not break the reuse."
    process = MaskedProcess(5)
    P = torch.rand(5, 5, 5, generator=make_generator(7), dtype=torch.float64)
    oracle = TableDenoiser(P / P.sum(), process)
    kw = dict(temperature=temperature, last=last, grid=grid, return_trajectory=True)
    for K in (1, 2, 7, 50):
        runs = {
            s: sample_masked(oracle, process, 300, 3, K, skip=s, generator=make_generator(K), **kw)
            for s in SKIP_RULES
        }
        for s in SKIP_RULES:
            assert torch.equal(runs[s].trajectory, runs["none"].trajectory), (K, s)
        assert runs["sequence"].evals["token"] <= runs["batch"].evals["token"] <= 300 * (K + 1)


def test_default_rule_follows_the_declaration():
    torch.manual_seed(0)
    timed = MDLM(DiT(V, "tiny", time_cond=True), V, L)
    assert not timed.time_free
    r = timed.sample(4, steps=8, generator=make_generator(0))
    assert r.nfe == {"token": 9} and r.evals == {"token": 36}  # no skipping for a time-conditioned network
    with pytest.raises(ValueError, match="time-free"):
        timed.sample(4, steps=8, skip="sequence")
    with pytest.raises(ValueError, match="skip must be one of"):
        perturbed(MDLM(DiT(V, "tiny"), V, L)).sample(4, steps=8, skip="rows")


def test_row_denoiser_selects_its_context_rows():
    "Per-row context (here a token each row prefers) must follow the rows the sampler evaluates."
    process = MaskedProcess(V)
    pref = torch.randint(0, V, (40,), generator=make_generator(1))
    f = lambda x, t, p: 4.0 * torch.nn.functional.one_hot(p, V).float()[:, None, :].expand(-1, x.shape[1], -1)
    den = RowDenoiser(f, pref, time_free=True)
    runs = {
        s: sample_masked(den, process, 40, L, 32, skip=s, generator=make_generator(2)) for s in SKIP_RULES
    }
    for s in SKIP_RULES:
        assert torch.equal(runs[s].x, runs["none"].x), s
    assert runs["sequence"].evals["token"] < runs["none"].evals["token"]
    with pytest.raises(ValueError, match="per-row state must be passed as context"):
        den(torch.full((3, L), V), torch.ones(3))  # 40 context rows for 3 sequences


def test_acceptance_count_k1024_batch16():
    "K=1024, L=128, batch 16: at most 2 x 16 x 129 sequence evaluations (calling at every step: 16 x 1025)."
    process = MaskedProcess(V)
    uniform = RowDenoiser(lambda x, t: torch.zeros(*x.shape, V), time_free=True)  # reveals ignore the logits
    r = sample_masked(uniform, process, 16, 128, 1024, generator=make_generator(4))
    assert r.evals["token"] <= 2 * 16 * 129
    assert r.nfe["token"] <= 1025


def coladd(schedule):
    S, d = 2, 8
    latent = LatentDiT(S, d, "tiny") if schedule == "sequential" else None
    m = CoLADD(
        DiTEncoder(V, S, d, "tiny"), JointDiT(V, S, latent_dim=d), latent, V, L, S, d, schedule=schedule
    )
    return perturbed(m)


def test_coladd_sequential_token_phase_skips_with_the_same_samples():
    torch.manual_seed(0)
    m = coladd("sequential")
    assert m.token_net.x_time_free
    kw = dict(steps=40, latent_steps=3, return_trajectory=True)
    full = m.sample(10, **kw, skip="none", generator=make_generator(5))
    skip = m.sample(10, **kw, generator=make_generator(5))
    assert torch.equal(skip.x, full.x) and torch.equal(skip.latent, full.latent)
    assert full.evals == {"latent": 40, "token": 410}
    assert skip.evals["latent"] == 40
    assert skip.evals["token"] == evals_from_trajectory(skip.trajectory, m.process.mask_id) < 410
    with pytest.raises(ValueError, match="no call can be skipped"):
        coladd("joint").sample(2, steps=4, skip="batch")


def test_diladd_sequential_token_phase_skips_with_the_same_samples():
    torch.manual_seed(0)
    S, C, d = 2, 16, 8
    net = JointDiT(V, S, latent_dim=d, n_codes=C)
    m = perturbed(DiLADD(DiTEncoder(V, S, d, "tiny", normalize=True), VectorQuantizer(C, d), net, V, L, S))
    full = m.sample(10, steps=40, latent_steps=3, skip="none", generator=make_generator(6))
    skip = m.sample(10, steps=40, latent_steps=3, generator=make_generator(6))
    assert torch.equal(skip.x, full.x) and torch.equal(skip.latent, full.latent)
    assert full.evals == {"latent": 40, "token": 410} and skip.evals["token"] < 410
    with pytest.raises(ValueError, match="no call can be skipped"):
        m.sample(2, steps=4, schedule="joint", skip="sequence")
