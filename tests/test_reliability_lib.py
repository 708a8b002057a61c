"""Issue 18, probes 8 and 11: the library's own checks. Sizes that cannot fit are refused before anything is
allocated, with the memory they would need; step budgets have a ceiling; processes, tables and denoiser
outputs are checked, and a faulty denoiser is named in the error with the step where it failed."""

import itertools, math, os, subprocess, sys
import pytest
import torch
import torch.nn as nn
import ladd_nb.core
import ladd_nb.masked
from ladd_nb.core import make_generator
from ladd_nb.schedules import MAX_STEPS, time_grid
from ladd_nb.masked import (
    MDLM,
    MaskedProcess,
    RowDenoiser,
    TableDenoiser,
    sample_masked,
    sampling_bytes,
    subs_log_probs,
)
from ladd_nb.coladd import CoLADD, ToyEncoder, ToyJointDenoiser, ToyLatentDenoiser
from ladd_nb.diladd import DiLADD, TableJointDenoiser
from ladd_nb.vq import VectorQuantizer
from ladd_nb.toy2d import ToyDenoiser

GiB = 2**30


@pytest.fixture
def machine_16gib(monkeypatch):
    "A machine with 16 GiB on every device, whatever this one has: the messages are then exact."
    for mod in (ladd_nb.core, ladd_nb.masked):
        monkeypatch.setattr(mod, "device_memory", lambda device=None: 16 * GiB)


def toy_coladd(schedule, V=8, d=4, **kw):
    latent = ToyLatentDenoiser(d) if schedule == "sequential" else None
    net = kw.pop("token_net", None) or ToyJointDenoiser(V, d=d)
    latent = kw.pop("latent_net", latent)
    return CoLADD(ToyEncoder(V, d=d), net, latent, V, 2, 1, d, schedule=schedule, **kw)


def toy_diladd(V=6, C=4, net=None):
    return DiLADD(
        ToyEncoder(V, 2, 3), VectorQuantizer(C, 3), net or ToyJointDenoiser(V, 2, d=3, out=C), V, 2, 1
    )


# ---- probe 8: sizes checked before allocating --------------------------------------------------------------
def test_time_grid_has_a_ceiling():
    with pytest.raises(
        ValueError,
        match=r"steps=1,000,000,000 is over MAX_STEPS = 1,000,000: its time grid alone "
        r"would need 7\.5 GiB .*lower steps",
    ):
        time_grid(10**9)
    assert len(time_grid(MAX_STEPS)) == MAX_STEPS + 1  # the ceiling itself is a valid budget


def test_step_ceiling_in_every_sampler():
    proc = MaskedProcess(3)
    uniform = lambda x, t: torch.zeros(*x.shape, 3)
    for call in (
        lambda: sample_masked(uniform, proc, 2, 2, 10**9),
        lambda: MDLM(ToyDenoiser(8), 8, 2).sample(2, steps=10**9),
        lambda: toy_coladd("joint").sample(2, steps=10**9),
        lambda: toy_coladd("sequential").sample(2, steps=10**9),
        lambda: toy_diladd().sample(2, steps=10**9),
        lambda: toy_diladd().sample(2, steps=10**9, schedule="joint"),
    ):
        with pytest.raises(ValueError, match="steps=1,000,000,000 is over MAX_STEPS"):
            call()
    for call in (
        lambda: toy_coladd("sequential").sample(2, steps=2, latent_steps=10**9),
        lambda: toy_diladd().sample(2, steps=2, latent_steps=10**9),
    ):
        with pytest.raises(ValueError, match="latent_steps=1,000,000,000 is over MAX_STEPS"):
            call()


def expected_message(nbytes, n, n_fit):
    return (
        f"sampling {n:,} sequences would need {nbytes / GiB:,.1f} GiB of memory; this machine has 16.0 GiB: "
        f"lower n to at most {n_fit:,}"
    )


def test_sample_masked_refuses_n_beyond_memory(machine_16gib):
    # 10**9 sequences of 2 tokens over V = 8: 10**9 * 2 * (36 * 8 + 80) bytes, about 685 GiB; a real attempt
    # would fail inside torch (a different message) or take the machine's memory
    n = 10**9
    nbytes = sampling_bytes(n, 2, 8, 4)
    assert 600 * GiB < nbytes < 800 * GiB
    msg = expected_message(nbytes, n, n * 16 * GiB // nbytes)
    with pytest.raises(ValueError, match=msg.replace(".", r"\.")):
        sample_masked(lambda x, t: torch.zeros(*x.shape, 8), MaskedProcess(8), n, 2, 4)
    with pytest.raises(ValueError, match=msg.replace(".", r"\.")):
        MDLM(ToyDenoiser(8), 8, 2).sample(n, steps=4)


def test_the_trajectory_counts_and_is_named(machine_16gib):
    # 10**5 sequences of 100 tokens fit without the trajectory, not with 10**4 steps of it (80 GB)
    proc, f = MaskedProcess(8), lambda x, t: torch.zeros(*x.shape, 8)
    assert sampling_bytes(10**5, 100, 8, 10**4) < 16 * GiB < sampling_bytes(10**5, 100, 8, 10**4, True)
    with pytest.raises(ValueError, match="or lower steps, or leave return_trajectory off"):
        sample_masked(f, proc, 10**5, 100, 10**4, return_trajectory=True)


def test_text_sized_request_is_refused_on_any_machine():
    # the probe: --n 1000000000 on a text model (L = 64, V = 100 here): hundreds of TB, beyond every machine
    with pytest.raises(
        ValueError, match=r"sampling 1,000,000,000 sequences would need [\d,.]+ GiB of memory"
    ):
        sample_masked(lambda x, t: torch.zeros(*x.shape, 100), MaskedProcess(100), 10**9, 64, 8)


@pytest.mark.parametrize("schedule", ["sequential", "joint"])
def test_ladd_samplers_refuse_n_beyond_memory(schedule, machine_16gib):
    n = 10**9
    tokens = sampling_bytes(n, 2, 8, 4)
    latent = 4 * n * 1 * 4 * 6  # six float32 copies of the [n, 1, 4] latent
    msg = expected_message(tokens + latent, n, n * 16 * GiB // (tokens + latent))
    with pytest.raises(ValueError, match=msg.replace(".", r"\.")):
        toy_coladd(schedule).sample(n, steps=4)
    V, C = 6, 4
    both = sampling_bytes(n, 2, V, 4) + sampling_bytes(n, 1, C, 4)  # the codes are a masked channel too
    msg = expected_message(both, n, n * 16 * GiB // both)
    with pytest.raises(ValueError, match=msg.replace(".", r"\.")):
        toy_diladd(V, C).sample(n, steps=4, schedule=schedule)


PEAK = """
import gc, torch
torch.set_num_threads(1)  # no thread started mid-run: a new thread's stack would count as the sampler's
from ladd_nb.core import make_generator
from ladd_nb.masked import MaskedProcess, sample_masked, sampling_bytes
def vm_peak():  # the peak of the address space: unlike resident memory, not moved by other processes
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmPeak:"))
n, L, V = 2000, 50, 50
f = lambda x, t: torch.zeros(*x.shape, V)
sample_masked(f, MaskedProcess(V), 2, L, 2, generator=make_generator(0))  # warm up the allocator and torch
gc.collect()
base = vm_peak()
sample_masked(f, MaskedProcess(V), n, L, 2, generator=make_generator(0), skip="none")
print((vm_peak() - base) / sampling_bytes(n, L, V, 2))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmPeak from /proc (Linux)")
def test_the_estimate_is_the_peak_it_predicts():
    # the estimate counts the sampler's own tensors; measured, the peak memory of a run with a network-free
    # denoiser (5 * 10**6 token entries, 180 MB) is within a factor 1.5 of it either way (measured: 1.015)
    out = subprocess.run([sys.executable, "-c", PEAK], capture_output=True, text=True, check=True)
    ratio = float(out.stdout)
    assert 1 / 1.5 < ratio < 1.5, ratio


# ---- probe 11: processes and tables ------------------------------------------------------------------------
def test_a_mask_id_beyond_v_never_becomes_a_token(gen):
    proc = MaskedProcess(8, mask_id=100)  # a mask id may sit anywhere outside the vocabulary
    r = sample_masked(
        lambda x, t: torch.zeros(*x.shape, 8), proc, 2_000, 3, 4, generator=gen, return_trajectory=True
    )
    assert set(r.trajectory.unique().tolist()) <= set(range(8)) | {100}
    assert (r.x < 8).all()
    assert (r.x == 7).any()  # the top token is drawn (uniform logits: 6,000 draws at 1/8 each)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(vocab_size=8, mask_id=-1), "mask id -1 is negative"),
        (dict(vocab_size=8, mask_id=3), "mask id 3 lies inside the vocabulary"),
        (dict(vocab_size=8, mask_id=True), "mask_id must be an integer, got True"),
        (dict(vocab_size=8, mask_id=8.0), "mask_id must be an integer, got 8.0"),
        (dict(vocab_size=True), "vocab_size must be an integer >= 1, got True"),
        (dict(vocab_size=0), "vocab_size must be an integer >= 1, got 0"),
        (dict(vocab_size=8.0), "vocab_size must be an integer >= 1, got 8.0"),
    ],
)
def test_bad_process_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        MaskedProcess(**kw)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: MDLM(ToyDenoiser(8), vocab_size=True, seq_len=2), "vocab_size must be"),
        (lambda: MDLM(ToyDenoiser(8), vocab_size=8, seq_len=True), "seq_len must be"),
        (lambda: CoLADD(ToyEncoder(8), ToyJointDenoiser(8), None, 8, True, 1, 4, "joint"), "seq_len must be"),
        (lambda: CoLADD(ToyEncoder(8), ToyJointDenoiser(8), None, 8, 2, True, 4, "joint"), "n_slots must be"),
        (lambda: CoLADD(ToyEncoder(8), ToyJointDenoiser(8), None, 8, 2, 1, 0, "joint"), "latent_dim must be"),
        (
            lambda: DiLADD(
                ToyEncoder(6, 2, 3), VectorQuantizer(4, 3), ToyJointDenoiser(6, 2, 3, out=4), 6, 2, True
            ),
            "n_slots must be",
        ),
        (
            lambda: DiLADD(
                ToyEncoder(6, 2, 3), VectorQuantizer(4, 3), ToyJointDenoiser(6, 2, 3, out=4), True, 2, 1
            ),
            "vocab_size must be",
        ),
    ],
)
def test_model_sizes_are_positive_ints(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1])
def test_table_denoiser_refuses_a_table_that_is_not_a_law(bad):
    proc = MaskedProcess(2)
    P = torch.full((2, 2), 0.25, dtype=torch.float64)
    P[0, 1] = bad
    with pytest.raises(
        ValueError, match=r"P must be a probability table \(finite, non-negative, summing to 1\)"
    ):
        TableDenoiser(P, proc)
    with pytest.raises(ValueError, match="finite, non-negative weights"):
        TableJointDenoiser(torch.stack([P, P]), proc, MaskedProcess(2))


def test_table_denoiser_refuses_wrong_shapes_and_types():
    proc = MaskedProcess(2)
    with pytest.raises(ValueError, match=r"P must have shape \[V\]\*L with V=2, got \(2, 3\)"):
        TableDenoiser(torch.full((2, 3), 1 / 6), proc)
    with pytest.raises(TypeError, match="P must be a floating-point torch.Tensor"):
        TableDenoiser([[0.25, 0.25], [0.25, 0.25]], proc)
    with pytest.raises(TypeError, match="P must be a floating-point torch.Tensor, got torch.int64"):
        TableDenoiser(torch.ones(2, 2, dtype=torch.long), proc)


# ---- probe 11: what a denoiser returns ---------------------------------------------------------------------
class Returns(nn.Module):
    "A denoiser that returns `value(*its arguments)` (None, a wrong shape, a tuple, ...)."

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, *args):
        return self.value(*args)


@pytest.mark.parametrize(
    "value, got",
    [
        (lambda x, t: None, "returned None"),
        (lambda x, t: torch.zeros(*x.shape, 5), r"returned a torch.float32 tensor of shape \(4, 3, 5\)"),
        (
            lambda x, t: torch.zeros(*x.shape, 8, dtype=torch.long),
            r"returned a torch.int64 tensor of shape \(4, 3, 8\)",
        ),
        (lambda x, t: (torch.zeros(*x.shape, 8),) * 2, "returned a tuple of 2"),
    ],
)
def test_a_wrong_output_names_the_denoiser(value, got):
    want = r"expected logits of shape \(4, 3, 8\) or \(4, 3, 9\) \(a floating-point tensor\)"
    with pytest.raises(ValueError, match=f"denoiser Returns {got}; {want}"):
        sample_masked(Returns(value), MaskedProcess(8), 4, 3, 2)
    with pytest.raises(ValueError, match=f"denoiser MDLM {got}"):  # the model is the denoiser
        MDLM(Returns(value), 8, 3).sample(4, steps=2)


class NaNAfter(nn.Module):
    "Uniform logits, NaN from call `k` on (counted from 0): a network whose weights blew up mid-run."

    def __init__(self, k, V=8):
        super().__init__()
        self.k, self.V, self.calls = k, V, itertools.count()

    def forward(self, x, t):
        return torch.zeros(*x.shape, self.V) + (math.nan if next(self.calls) >= self.k else 0.0)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_nan_logits_name_the_denoiser_and_the_step(value, gen):
    class Bad(NaNAfter):
        def forward(self, x, t):
            out = super().forward(x, t)
            return torch.where(out.isnan(), value, out)

    # uniform grid, K = 8: the third call is step 3, at t = 1 - 2/8 (1 - 1e-5) = 0.75
    with pytest.raises(
        ValueError, match=r"denoiser Bad returned NaN or infinite logits at step 3 of 8 \(t=0\.75\)"
    ):
        sample_masked(Bad(2), MaskedProcess(8), 64, 3, 8, skip="none", generator=gen)


def test_nan_at_the_noise_removal_call(gen):
    # K = 1 leaves a position masked for the noise-removal call with probability about 1e-5: force one
    proc = MaskedProcess(8)
    x = torch.tensor([[proc.mask_id, 0]])
    logp = subs_log_probs(torch.full((1, 2, 8), math.nan), x, proc)
    for last in ("sample", "greedy"):
        with pytest.raises(ValueError, match="contains NaN"):
            ladd_nb.masked.final_step(x, logp, proc, last, gen)


def test_impossible_tokens_are_not_faults(gen):
    # -inf logits mean probability 0: legal, and never drawn
    proc = MaskedProcess(4)
    f = RowDenoiser(lambda x, t: torch.tensor([0.0, -math.inf, 0.0, -math.inf]).expand(*x.shape, 4))
    r = sample_masked(f, proc, 1_000, 3, 4, generator=gen)
    assert set(r.x.unique().tolist()) == {0, 2}


def test_a_row_denoiser_carries_the_network_name():
    net = NaNAfter(0)
    f = RowDenoiser(lambda x, t, y: net(x, t), torch.zeros(4, 1), name="TokenNet")  # y: a per-row context
    with pytest.raises(ValueError, match="denoiser TokenNet returned NaN or infinite logits at step 1 of 2"):
        sample_masked(f, MaskedProcess(8), 4, 3, 2, skip="none")
    with pytest.raises(ValueError, match="denoiser NaNAfter returned"):  # by default: the wrapped network
        sample_masked(RowDenoiser(NaNAfter(0)), MaskedProcess(8), 4, 3, 2)


# ---- the same checks in the LADD samplers ------------------------------------------------------------------
class JointNaN(nn.Module):
    "A joint Co-LADD denoiser: uniform token logits and y0_hat = 0; NaN in `which` output from call `k` on."

    x_time_free = True

    def __init__(self, k, which, V=8, out=None):
        super().__init__()
        self.k, self.which, self.V, self.out, self.calls = k, which, V, out, itertools.count()

    def forward(self, x, y, tx, ty):
        bad = math.nan if next(self.calls) >= self.k else 0.0
        tokens = torch.zeros(*x.shape, self.V) + (bad if self.which == "tokens" else 0.0)
        latent = torch.zeros(len(x), y.shape[1], self.out or y.shape[-1]) + (
            bad if self.which == "latent" else 0.0
        )
        return tokens, latent


def test_coladd_joint_names_its_network(gen):
    m = toy_coladd("joint", token_net=JointNaN(1, "tokens"))
    with pytest.raises(ValueError, match=r"denoiser JointNaN returned NaN or infinite logits at step 2 of 4"):
        m.sample(16, steps=4, generator=gen)
    m = toy_coladd(
        "joint", token_net=JointNaN(1, "latent")
    )  # a NaN latent reaches the tokens at the next step
    with pytest.raises(ValueError, match=r"denoiser JointNaN returned NaN or infinite"):
        m.sample(16, steps=4, generator=gen)
    m = toy_coladd(
        "joint", token_net=JointNaN(4, "latent")
    )  # only the last call: the final latent is checked
    with pytest.raises(
        ValueError, match=r"denoiser JointNaN returned NaN or infinite latents while sampling"
    ):
        m.sample(16, steps=4, generator=gen)


def test_coladd_wrong_outputs_are_named(gen):
    none = toy_coladd("joint", token_net=Returns(lambda *a: None))
    with pytest.raises(
        ValueError, match=r"joint denoiser Returns returned None; expected a pair \(token logits"
    ):
        none.sample(4, steps=2, generator=gen)
    one = toy_coladd(
        "joint", token_net=Returns(lambda x, *a: (torch.zeros(*x.shape, 8), torch.zeros(4, 1, 3)))
    )
    with pytest.raises(
        ValueError,
        match=r"denoiser Returns returned a torch.float32 tensor of shape \(4, 1, 3\); "
        r"expected a latent of shape \(4, 1, 4\)",
    ):
        one.sample(4, steps=2, generator=gen)


def test_coladd_sequential_names_each_network(gen):
    class LatentNaN(nn.Module):
        def forward(self, y, t):
            return torch.full_like(y, math.nan)

    m = toy_coladd("sequential", latent_net=LatentNaN())
    with pytest.raises(
        ValueError, match="denoiser LatentNaN returned NaN or infinite latents while sampling"
    ):
        m.sample(8, steps=2, generator=gen)
    m = toy_coladd("sequential", token_net=JointNaN(0, "tokens"))
    with pytest.raises(ValueError, match="denoiser JointNaN returned NaN or infinite logits at step 1 of 2"):
        m.sample(8, steps=2, generator=gen)


@pytest.mark.parametrize("schedule", ["sequential", "joint"])
def test_diladd_names_its_network(schedule, gen):
    V, C = 6, 4
    for which, what in (("latent", "code logits"), ("tokens", "logits")):
        m = toy_diladd(V, C, net=JointNaN(0, which, V=V, out=C))
        with pytest.raises(
            ValueError, match=f"denoiser DiLADD.denoise returned NaN or infinite {what} at step 1"
        ):
            m.sample(8, steps=2, schedule=schedule, generator=gen)
    m = toy_diladd(V, C, net=Returns(lambda *a: None))
    with pytest.raises(ValueError, match="joint denoiser DiLADD.denoise returned None"):
        m.sample(8, steps=2, schedule=schedule, generator=gen)
