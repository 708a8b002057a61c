"""The GPU training path, checked on the CPU (issue 19): no per-step waits for the device, a compiled MDLM
step with few graph breaks, bf16 autocast and torch.compile close to fp32 and eager, checkpoints mapped, DDP
wrapped again at the LADD stage switch, and the device script's smoke mode."""

import collections, functools, json, os, subprocess, sys, traceback
from pathlib import Path
import pytest
import torch
from torch.overrides import TorchFunctionMode
from ladd_nb.cli import main
from ladd_nb.core import make_generator
from ladd_nb.dit import DiT, perturb_zero_init
from ladd_nb.masked import MDLM
from ladd_nb.presets import build_text_model, get_config
from ladd_nb.train import LossModule, Trainer, TrainConfig, load_checkpoint, save_checkpoint, CheckpointError

ROOT = Path(__file__).parents[1]
V, L = 27, 32  # characters, as the text presets

# Calls that read a tensor's value on the host: on a GPU each one waits for the device to catch up
SYNCS = {
    torch.Tensor.item,
    torch.Tensor.tolist,
    torch.Tensor.__bool__,
    torch.Tensor.__float__,
    torch.Tensor.__int__,
    torch.Tensor.__index__,
    torch.Tensor.cpu,
    torch.Tensor.numpy,
    torch.Tensor.nonzero,
    torch.nonzero,
    torch.Tensor.equal,
    torch.equal,
    torch.allclose,
    torch.masked_select,
    torch.unique,
}


class SyncCounter(TorchFunctionMode):
    "Count the calls that read tensor values on the host, by the library line that made them."

    def __init__(self):
        super().__init__()
        self.calls = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        bool_index = func is torch.Tensor.__getitem__ and any(
            torch.is_tensor(a) and a.dtype == torch.bool for a in (args[1:2] if args else ())
        )
        if func in SYNCS or bool_index:  # a boolean index has a data-dependent size: a sync too
            frame = [f for f in traceback.extract_stack()[:-1] if "torch/" not in f.filename][-1]
            self.calls[f"{getattr(func, '__name__', func)} in {Path(frame.filename).name}:{frame.name}"] += 1
        return func(*args, **(kwargs or {}))


def tokens(g, n):
    "The data source of these tests: uniform token ids (the values do not matter here)."
    return torch.randint(0, V, (n, L), generator=g, device=g.device)


def tiny(kind: str, stage1_steps: int = 3, seed: int = 0):
    "A tiny DiT MDLM or Co-LADD (sequential schedule) with its zero-initialised layers perturbed."
    torch.manual_seed(seed)
    if kind == "mdlm":
        model = MDLM(DiT(V, "tiny"), V, L)
    else:
        c = get_config(
            "text-char-coladd", dict(size="tiny", length=L, n_slots=2, d=4, stage1_steps=stage1_steps)
        )
        model = build_text_model(c)
    perturb_zero_init(model, seed=seed)  # a zero head computes nothing that precision could change
    return model


def trainer(kind: str, cpu_too=False, **kw) -> Trainer:
    cfg = dict(train_steps=40, batch_size=8, grad_accum=2, lr=1e-3, warmup_steps=1, log_every=10, ema=0.9)
    return Trainer(tiny(kind), TrainConfig(**{**cfg, **kw}), tokens, progress=False, cpu_too=cpu_too)


def syncs_per_step(tr: Trainer, steps: int) -> list[collections.Counter]:
    "The host reads of each of `steps` training steps, logged (`sync_metrics`) at the trainer's log points."
    counts = []
    for _ in range(steps):
        with SyncCounter() as c:
            m = tr.train_step()
            if tr.log_due():
                tr.sync_metrics(m)
        counts.append(c.calls)
    return counts


def check_reads(counts: list, log_every: int, first_steps: set, allowed=lambda where: False):
    """Steps read nothing on the host but: the input checks of a stage's `first_steps`, one read of the
    metrics per log point, and reads at places `allowed` (known, outside the trainer)."""
    for step, c in enumerate(counts, start=1):
        rest = {k: n for k, n in c.items() if not allowed(k)}
        if step in first_steps:
            assert 0 < sum(rest.values()) <= 12, (step, c)  # bounded: the checks of one step
        elif step % log_every == 0:
            assert rest == {"tolist in train.py:sync_metrics": 1}, (step, c)
        else:
            assert not rest, (step, c)


def test_mdlm_steps_do_not_wait_for_the_device():
    "20 steps of a tiny MDLM, logged every 10: nothing read on the host but the first step's checks and logs."
    check_reads(syncs_per_step(trainer("mdlm"), 20), 10, first_steps={1})


def test_coladd_steps_do_not_wait_for_the_device():
    "The same for Co-LADD across its stage switch: the first step of each stage (1 and 4) checks its inputs."
    check_reads(syncs_per_step(trainer("coladd"), 20), 10, first_steps={1, 4})


# ---- graph breaks of the compiled MDLM step ---------------------------------------------------------------


def mdlm_step_inputs(seed: int = 0):
    "(model, batch, noise) of one tiny MDLM step; the noise is drawn before, outside compiled code."
    model = tiny("mdlm", seed=seed)
    batch = tokens(make_generator(seed), 8)
    return model, batch, model.loss_noise(batch, make_generator(seed + 1))


def whole_step(loss_module):
    "Forward and backward of one micro-batch (a quarter of the batch), as `Trainer.accumulate_grads` does."

    def step(batch, noise):
        out = loss_module(batch, None, (0, 4), noise)
        (out["loss"] / 4).backward()
        return out["loss"].detach()

    return step


def test_compiled_mdlm_step_has_no_graph_break_in_the_network_and_at_most_two_in_all():
    torch._dynamo.reset()
    model, batch, noise = mdlm_step_inputs()
    t, xt = noise
    assert torch._dynamo.explain(model.net)(xt[:2], t[:2]).graph_break_count == 0
    torch._dynamo.reset()
    assert torch._dynamo.explain(LossModule(model))(batch, None, (0, 4), noise).graph_break_count == 0
    torch._dynamo.reset()
    assert torch._dynamo.explain(whole_step(LossModule(model)))(batch, noise).graph_break_count <= 2


# ---- bf16 autocast and torch.compile on the CPU ----------------------------------------------------------

# Relative gap between the bf16 and fp32 losses of the same tiny models (perturbed init), first 5 steps:
# measured at most 2e-4 over seeds 0-4 for MDLM and Co-LADD: the tolerance is ten times that.
BF16_TOL = 2e-3
# Compiled against eager, float32: measured at most 1.1e-7 relative (float rounding of fused kernels).
COMPILE_TOL = 1e-5


def losses(kind: str, steps: int, seed: int = 0, **kw) -> tuple[list, Trainer]:
    "The logged losses of `steps` steps of a tiny model with `cpu_too` (bf16 and compile as `kw` asks)."
    cfg = dict(train_steps=10, batch_size=16, log_every=1, warmup_steps=1, lr=1e-3, seed=seed, stage1_steps=0)
    cfg = {k: v for k, v in {**cfg, **kw}.items() if k != "stage1_steps"}
    model = tiny(kind, stage1_steps=kw.get("stage1_steps", 100), seed=seed)
    tr = Trainer(model, TrainConfig(**cfg), tokens, progress=False, cpu_too=True)
    return [tr.sync_metrics(tr.train_step())["loss"] for _ in range(steps)], tr


def head_dtype(tr: Trainer) -> torch.dtype:
    "The dtype of the token logits in one more training step of `tr` (its autocast at work)."
    seen = []
    net = tr.model.net if hasattr(tr.model, "net") else tr.model.token_net
    hook = net.register_forward_hook(
        lambda mod, args, out: seen.append((out[0] if isinstance(out, tuple) else out).dtype)
    )
    tr.train_step()
    hook.remove()
    return seen[0]


@pytest.mark.parametrize("kind", ["mdlm", "coladd"])
def test_bf16_autocast_on_the_cpu_is_finite_and_close_to_fp32(kind):
    fp32, tr32 = losses(kind, 5, bf16=False)
    bf16, tr16 = losses(kind, 5, bf16=True)
    assert (head_dtype(tr32), head_dtype(tr16)) == (torch.float32, torch.bfloat16)  # autocast really on
    assert all(torch.isfinite(torch.tensor(bf16)))
    for a, b in zip(fp32, bf16):
        assert abs(b - a) <= BF16_TOL * abs(a), (fp32, bf16)
    assert fp32 != bf16  # the two precisions did compute differently


def test_the_gpu_settings_stay_off_on_the_cpu_unless_asked():
    tr = Trainer(tiny("mdlm"), TrainConfig(bf16=True, compile=True, batch_size=8), tokens, progress=False)
    assert (tr.bf16, tr.compiled, head_dtype(tr)) == (False, False, torch.float32)


@pytest.mark.parametrize("kind", ["mdlm", "coladd"])
def test_compiled_training_matches_eager(kind, monkeypatch):
    """One compile per model: three steps, losses equal to eager's up to float rounding. MDLM goes through
    inductor (code generation); Co-LADD (in stage 1, several graphs: its noise is drawn inside) through
    `aot_eager`, the same capture of forward and backward without code generation (minutes less on a CPU)."""
    torch._dynamo.reset()
    if kind == "coladd":
        monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    eager, _ = losses(kind, 3, bf16=False)
    compiled, tr = losses(kind, 3, bf16=False, compile=True)
    assert tr.compiled and type(tr.net).__name__ == "OptimizedModule"
    for a, b in zip(eager, compiled):
        assert abs(b - a) <= COMPILE_TOL * abs(a), (eager, compiled)


# ---- divergence is found at the next check, and never saved --------------------------------------------


def test_a_divergence_between_log_points_stops_the_run_without_a_checkpoint(capsys, tmp_path):
    d = tmp_path / "wild"
    args = ["train", "toy2d-mdlm", "V=8", "batch_size=64", "lr=1e30", "warmup_steps=0", "log_every=10"]
    try:
        code = main([*args, "ckpt_every=0", "--out", str(d), "--no-progress"], progress=False)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and "training diverged at one of steps 1-10" in err, err
    assert not list(d.glob("ckpt_*.pt"))
    rows = (
        [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        if (d / "metrics.jsonl").exists()
        else []
    )
    assert rows == []  # nothing of the diverged steps was logged either


# ---- checkpoints are mapped, still verified ------------------------------------------------------------


def mapped_from(t: torch.Tensor, path: Path) -> bool:
    "Whether tensor `t`'s memory lies in a mapping of the file `path` (Linux: /proc/self/maps)."
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split()
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        if parts[-1] == str(path) and lo <= t.data_ptr() < hi:
            return True
    return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the memory map of Linux")
def test_checkpoints_load_mapped_and_verified(tmp_path):
    tr = trainer("mdlm", batch_size=8)
    tr.train_step()
    path = save_checkpoint(tr.state(), tmp_path / "ckpt_00000001.pt")
    ck = load_checkpoint(path)
    w = next(iter(ck["model"].values()))
    assert mapped_from(w, path)  # the weights are pages of the file, not a copy in memory
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # a bit flipped inside the weights
    (tmp_path / "flipped.pt").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum|not a readable"):
        load_checkpoint(tmp_path / "flipped.pt")
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable ladd_nb checkpoint.*truncated"):
        load_checkpoint(tmp_path / "cut.pt")


# ---- DDP at the LADD stage switch ------------------------------------------------------------------------

DDP_SCRIPT = """
import json, torch
from ladd_nb.presets import preset_trainer
from ladd_nb.train import dist_teardown
args = ["V=8", "train_steps=6", "stage1_steps=3", "batch_size=64", "log_every=1", "hidden=64", "emb=16"]
tr = preset_trainer("toy2d-coladd", args, progress=False, log=lambda *a: None)
rows = []
for _ in range(6):
    row = tr.sync_metrics(tr.train_step())
    trained = sum(p.numel() * p.element_size() for p in tr.model.parameters() if p.requires_grad)
    ddp = tr.net._get_ddp_logging_data()["total_parameter_size_bytes"] if tr.world > 1 else None
    rows.append(dict(loss=row["loss"], grad_norm=row["grad_norm"], trained=trained, ddp=ddp))
if tr.rank == 0:
    print(json.dumps(rows))
dist_teardown()
"""


def test_ddp_wraps_again_at_the_stage_switch_and_matches_one_process(tmp_path):
    """torchrun, 2 processes (gloo): stage 2's DDP holds only the trained parameters; the losses are those of
    one process."""
    script = tmp_path / "ddp_stages.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = lambda *pre: subprocess.run(
        [*pre, str(script)], capture_output=True, text=True, timeout=600, env=env
    )
    one = run(sys.executable)
    two = run(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2")
    assert one.returncode == 0 and two.returncode == 0, (one.stderr + two.stderr)[-3000:]
    a, b = json.loads(one.stdout.splitlines()[-1]), json.loads(two.stdout.splitlines()[-1])
    assert [r["ddp"] for r in b] == [r["trained"] for r in b]  # the buckets hold exactly the trained ones
    assert b[3]["trained"] < b[2]["trained"]  # stage 2 (from step 4) freezes the encoder
    for x, y in zip(a, b):
        for k in ("loss", "grad_norm"):
            assert y[k] == pytest.approx(x[k], rel=1e-4, abs=1e-6), (k, a, b)


# ---- the device script, in its smoke mode -------------------------------------------------------------


def test_device_check_smoke_mode_runs_and_writes_its_results(tmp_path):
    "bench/device_check.sh with DEVICE=cpu: toy sizes, both trainings and the benchmark, one JSON of results."
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "DEVICE": "cpu",
        "OUT": str(tmp_path),
        "PYTHON": sys.executable,
    }
    r = subprocess.run(
        ["bash", str(ROOT / "bench" / "device_check.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "device_check.json").read_text())
    assert res["smoke"] and [x["model"] for x in res["runs"]] == ["mdlm-tiny", "coladd-tiny"]
    for x in res["runs"]:
        assert x["tokens_per_s"] > 0 and x["flops_per_step"] > 0
        mfu = x["flops_per_step"] / x["step_s"] / (res["peak_tflops"] * 1e12)
        assert x["mfu"] == pytest.approx(mfu, abs=1e-4, rel=0.01)  # the step's FLOPs over the peak
        assert all(map(lambda v: v == v and abs(v) < 1e3, x["losses"].values()))  # finite losses
    assert "error" not in res["benchmark"] and len(res["benchmark"]) >= 1
    assert "tokens/s, MFU" in r.stdout and "device check done" in r.stdout


def test_the_micro_batches_of_a_step_share_one_compiled_graph():
    """With 4 micro-batches, the compiled loss is compiled once: each micro-batch's rows are cut before the
    compiled code (`_micro_batch_args`); passing the shard in makes each one a new program (the old way)."""
    from ladd_nb.train import _micro_batch_args

    def compiles_of(args_of) -> int:
        model, batch, noise = mdlm_step_inputs()
        graphs = []

        def backend(gm, example_inputs):  # counts compilations; runs the traced graph as it is
            graphs.append(gm)
            return gm.forward

        torch._dynamo.reset()
        net = torch.compile(LossModule(model), backend=backend)
        losses = [net(*args_of(batch, noise, (i, 4)))["loss"] for i in range(4)]
        eager = [LossModule(model)(batch, None, (i, 4), noise)["loss"] for i in range(4)]
        assert all(torch.allclose(a, b) for a, b in zip(losses, eager))  # the same losses either way
        return len(graphs)

    assert compiles_of(lambda b, n, shard: _micro_batch_args(b, None, shard, n)) == 1
    assert compiles_of(lambda b, n, shard: (b, None, shard, n)) > 1


def ladd_model(kind: str):
    "A tiny Co-LADD (sequential) or Di-LADD of the text presets, as `tiny`."
    if kind == "coladd":
        return tiny("coladd")
    torch.manual_seed(0)
    c = get_config("text-char-diladd", dict(size="tiny", length=L, n_slots=2, d=4, n_codes=8, stage1_steps=3))
    return build_text_model(c)


@pytest.mark.parametrize("kind, stage", [("coladd", 1), ("coladd", 2), ("diladd", 2)])
def test_ladd_losses_compile_without_graph_breaks(kind, stage):
    """Co-LADD (both stages) and Di-LADD's stage 2 (nine tenths of its run) trace whole: their noise is drawn
    beforehand (`loss_noise`), and the code counts have a fixed size (`code_counts`)."""
    from ladd_nb.train import _micro_batch_args

    model = ladd_model(kind)
    model.set_step(0 if stage == 1 else 10**6)
    batch = tokens(make_generator(0), 8)
    noise = model.loss_noise(batch, make_generator(1))
    torch._dynamo.reset()
    explained = torch._dynamo.explain(LossModule(model))(*_micro_batch_args(batch, None, (0, 2), noise))
    assert model.stage == stage and explained.graph_count >= 1
    assert explained.graph_break_count == 0, [str(b.reason)[:200] for b in explained.break_reasons]


def test_the_next_batch_is_drawn_in_the_background_and_resumes_exactly(tmp_path):
    """After the first (drawn in line, where a data source sets itself up), each batch is drawn in a
    background thread while the step before it runs; a checkpoint stores the data state from before the
    batch drawn ahead, so a resumed run draws the same batches."""
    import threading

    where, drawn = [], []

    def data(g, n):
        where.append(threading.current_thread() is threading.main_thread())
        drawn.append(tokens(g, n))
        return drawn[-1]

    def run(out, steps, resume=False):
        cfg = TrainConfig(train_steps=steps, batch_size=8, lr=1e-3, warmup_steps=1, ckpt_every=3, log_every=1)
        tr = Trainer(tiny("mdlm"), cfg, data, out, progress=False, log=lambda *a: None)
        if resume:
            tr.resume()
        tr.fit()
        return tr

    run(tmp_path / "a", 6)
    assert where[0] and not any(where[1:6])  # the first in line, the next ones in the background
    straight = [b.clone() for b in drawn[:6]]
    drawn.clear()
    run(tmp_path / "b", 3)
    drawn.clear()
    run(tmp_path / "b", 6, resume=True)
    assert all(torch.equal(a, b) for a, b in zip(straight[3:6], drawn[:3]))  # steps 4-6 see the same batches
