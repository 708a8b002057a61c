"""Issue 19, device hygiene: code that would fail on a GPU must fail here, on a CPU.

Two checks. (1) A static rule over the generated library `ladd_nb/*.py`: every `torch.<function>(...)` call
that is given a `generator=` also names its `device=`. A CUDA generator passed to a factory that defaults to
the CPU raises on a GPU (`torch.randperm(B, generator=g)` was Di-LADD's first-step crash) and passes on a CPU,
so only a rule can catch it here. Exempt are the functions whose output follows a tensor input
(`multinomial`, `bernoulli`, `poisson`, `normal`, `*_like`) and tensor methods (`x.uniform_(generator=g)`):
their generator must live where that input lives, which the run below checks.

(2) The trainer, the samplers and the evaluation run end to end on a *virtual device*. Plain `meta` tensors
cannot do it: they hold no values, so `.item()`, `bool(t)` and `nonzero` (every data-dependent branch, every
check of the inputs) have no answer; FakeTensorMode refuses them for the same reason. Instead the tensors of
the run are real CPU tensors wrapped in a subclass that reports device `meta` (`OnDev`): every value is real,
so every branch runs as it would, while a dispatch mode applies an accelerator's rules: a CPU tensor (other
than a 0-dimensional one) meeting a device tensor raises, a random draw whose generator lives on the other
device raises, and every read of a device value on the host (`.item()`, `bool`, `.tolist()`: a GPU->host
sync) and every copy to the host is recorded.
"""

import ast
import contextlib
import math
import sys
from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves, tree_map

import ladd_nb

LIB = Path(ladd_nb.__file__).parent

# ---------------------------------------------------------------------------------------------------------
# (1) the static rule

FOLLOW_INPUT = {"multinomial", "bernoulli", "poisson", "normal", "rand_like", "randn_like", "randint_like"}


def generator_calls(source: str, name: str = "<snippet>") -> list[tuple[str, int, str, bool]]:
    "(file, line, function, names its device) of each `torch.<f>(..., generator=...)` call in `source`."
    calls = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or "generator" not in {k.arg for k in node.keywords}:
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "torch":
            ok = f.attr in FOLLOW_INPUT or "device" in {k.arg for k in node.keywords}
            calls.append((name, node.lineno, f.attr, ok))
    return calls


def library_generator_calls() -> list[tuple[str, int, str, bool]]:
    return [c for p in sorted(LIB.glob("*.py")) for c in generator_calls(p.read_text(), p.name)]


def test_every_generator_call_in_the_library_names_its_device():
    calls = library_generator_calls()
    # 32 such calls on the day this was written: far fewer means the scan lost its way, not that they went
    assert len(calls) >= 25, calls
    assert {"randperm", "rand", "randn", "randint", "multinomial"} <= {c[2] for c in calls}
    bad = [f"{f}:{line} torch.{fn}" for f, line, fn, ok in calls if not ok]
    assert not bad, f"generator without device (fix the notebook that exports it): {bad}"


def test_the_rule_flags_a_planted_bad_call():
    bad = "import torch\ndef f(B, g):\n    return torch.randperm(B, generator=g).to('cuda')\n"
    assert [(c[2], c[3]) for c in generator_calls(bad)] == [("randperm", False)]
    good = "def f(B, g, d):\n    return torch.randperm(B, generator=g, device=d)\n"
    assert [(c[2], c[3]) for c in generator_calls(good)] == [("randperm", True)]
    follows = "def f(p, g):\n    return torch.multinomial(p, 1, generator=g), p.uniform_(generator=g)\n"
    assert [(c[2], c[3]) for c in generator_calls(follows)] == [("multinomial", True)]


# ---------------------------------------------------------------------------------------------------------
# (2) the virtual device

aten = torch.ops.aten
DEV = torch.device("meta")  # what the device tensors report; no computation is ever done on real meta tensors


class OnDev(torch.Tensor):
    "A real CPU tensor `elem` that reports device `DEV`."

    @staticmethod
    def __new__(cls, elem):
        return torch.Tensor._make_wrapper_subclass(
            cls,
            elem.shape,
            strides=elem.stride(),
            storage_offset=elem.storage_offset(),
            dtype=elem.dtype,
            device=DEV,
            requires_grad=elem.requires_grad,
        )

    def __init__(self, elem):
        self.elem = elem

    def __repr__(self):
        return f"OnDev({self.elem!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return _on_device(func, args, kwargs or {})


class DeviceGenerator(torch.Generator):
    "A CPU generator that says it lives on `DEV` (torch makes no generators for `meta`)."

    @property
    def device(self):
        return DEV


class Record:
    "What a run did on the host: reads of device values (syncs) and copies to the host, by library line."

    def __init__(self):
        self.syncs, self.to_host = [], []


REC = Record()


def _where() -> str:
    "The innermost frame in ladd_nb: where a sync or a refused call happened."
    f = sys._getframe(1)
    while f is not None and Path(f.f_code.co_filename).parent != LIB:
        f = f.f_back
    return f"{Path(f.f_code.co_filename).name}:{f.f_lineno}" if f else "outside ladd_nb"


def _is_dev(d) -> bool:
    return d is not None and torch.device(d) == DEV


def _on_device(func, args, kwargs):
    "Run `func` on the CPU values, under an accelerator's rules; wrap what it makes on the device."
    tensors = [a for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)]
    if func is aten._local_scalar_dense.default:
        REC.syncs.append(_where())
        return args[0].elem.item()
    if func is aten._to_copy.default and kwargs.get("device") is not None and not _is_dev(kwargs["device"]):
        REC.to_host.append(_where())
        return aten._to_copy.default(args[0].elem, **kwargs)
    if any(a.device == DEV and not isinstance(a, OnDev) for a in tensors):
        raise RuntimeError(f"{func} at {_where()}: a real meta tensor, made outside the virtual device")
    cpu = [a for a in tensors if not isinstance(a, OnDev) and a.dim() > 0]
    if (
        cpu
        and any(isinstance(a, OnDev) for a in tensors)
        and func not in (aten.copy_.default, aten.lift_fresh.default)
    ):
        raise RuntimeError(
            f"{func} at {_where()}: a CPU tensor of shape {tuple(cpu[0].shape)} meets a tensor on the device"
        )
    args, kwargs = tree_map(lambda a: a.elem if isinstance(a, OnDev) else a, (args, kwargs))
    if _is_dev(kwargs.get("device")):
        kwargs = dict(kwargs, device=torch.device("cpu"))
    return tree_map(lambda o: OnDev(o) if type(o) is torch.Tensor else o, func(*args, **kwargs))


class _Dispatch(TorchDispatchMode):
    "Send every operation on device tensors, or making one (`device=DEV`), to `_on_device`."

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if any(isinstance(a, OnDev) for a in tree_leaves((args, kwargs))) or _is_dev(kwargs.get("device")):
            return _on_device(func, args, kwargs)
        return func(*args, **kwargs)


class _Generators(TorchFunctionMode):
    "Refuse a random draw whose generator lives on another device than its output, as a GPU does."

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.tolist and isinstance(args[0], OnDev):  # torch refuses it for a subclass
            REC.syncs.append(_where())
            return args[0].elem.tolist()
        if func in (torch.tensor, torch.as_tensor) and _is_dev(kwargs.get("device")):
            if not isinstance(
                args[0], torch.Tensor
            ):  # from Python data, without a dispatch: build, then wrap
                return OnDev(func(*args, **dict(kwargs, device="cpu")))
        out = func(*args, **kwargs)
        g = kwargs.get("generator")
        if isinstance(g, torch.Generator) and isinstance(out, torch.Tensor):
            if isinstance(g, DeviceGenerator) != (out.device == DEV):
                where = {True: "the device", False: "the CPU"}
                raise RuntimeError(
                    f"{getattr(func, '__name__', func)} at {_where()}: a generator on "
                    f"{where[isinstance(g, DeviceGenerator)]} drew a tensor on {where[out.device == DEV]}"
                )
        return out


@contextlib.contextmanager
def virtual_device():
    """Run with `DEV` as the accelerator: `make_generator(seed, DEV)` gives a `DeviceGenerator`, and
    `default_device()` is `DEV`, in every ladd_nb module. Yields the `Record` of the run."""
    import ladd_nb.core as core

    global REC
    make, default = core.make_generator, core.default_device

    def make_generator(seed=None, device="cpu"):
        if not _is_dev(device):
            return make(seed, device)
        g = DeviceGenerator()
        g.manual_seed(make(seed).initial_seed())
        return g

    patches = [
        (m, name, new)
        for m in [m for n, m in list(sys.modules.items()) if n.startswith("ladd_nb") and m is not None]
        for name, old, new in (
            ("make_generator", make, make_generator),
            ("default_device", default, lambda: DEV),
        )
        if getattr(m, name, None) is old
    ]
    REC = Record()
    for m, name, new in patches:
        setattr(m, name, new)
    try:
        with _Dispatch(), _Generators():
            yield REC
    finally:
        for m, name, _ in patches:
            setattr(m, name, make if name == "make_generator" else default)


def test_the_virtual_device_refuses_what_a_gpu_refuses():
    with virtual_device() as rec:
        g = ladd_nb.core.make_generator(0, DEV)
        x = torch.ones(4, device=DEV)
        assert x.device == DEV and float((x + torch.tensor(1.0)).sum()) == 8.0  # a CPU scalar may meet it
        with pytest.raises(RuntimeError, match="a CPU tensor of shape"):
            x + torch.ones(4)
        with pytest.raises(RuntimeError, match="generator on the device drew a tensor on the CPU"):
            torch.randperm(4, generator=g)
        with pytest.raises(RuntimeError, match="generator on the CPU drew a tensor on the device"):
            torch.rand(4, generator=torch.Generator(), device=DEV)
        assert torch.randperm(4, generator=g, device=DEV).sort().values.cpu().tolist() == [0, 1, 2, 3]
    assert len(rec.syncs) == 1 and len(rec.to_host) == 1  # the float(), the copy to the host


# ---------------------------------------------------------------------------------------------------------
# the library on the virtual device

L = 16


def tiny_text_model(kind: str):
    from ladd_nb.presets import TextConfig, build_text_model

    return build_text_model(TextConfig(model=kind, length=L, size="tiny", tokenizer="char", n_codes=16))


@pytest.fixture(params=["ar", "mdlm", "coladd", "diladd"])
def kind(request):
    return request.param


def test_train_step_on_the_device(kind, monkeypatch):
    "Two optimiser steps (the LADD models switch stage between them) of a tiny model on the device."
    from ladd_nb.presets import TextConfig
    import ladd_nb.train as train

    monkeypatch.setattr(train, "dist_setup", lambda: (0, 1, DEV))
    cfg = TextConfig(
        model=kind, length=L, batch_size=4, train_steps=2, stage1_steps=1, warmup_steps=1, ema=0.9
    )
    model = tiny_text_model(kind)
    V = model.process.V if hasattr(model, "process") else model.V
    data = lambda g, n: torch.randint(0, V, (n, L), generator=g, device=g.device).cpu()  # noqa: E731
    with virtual_device() as rec:
        tr = train.Trainer(model, cfg, data, progress=False, log=lambda *a: None)
        ms = [tr.train_step() for _ in range(2)]
    assert all(p.device == DEV for p in model.parameters())
    assert all(math.isfinite(float(m["loss"])) for m in ms), ms
    print(
        kind,
        "train step: host syncs at",
        sorted(set(rec.syncs)),
        "copies to the host at",
        sorted(set(rec.to_host)),
    )


def test_samplers_on_the_device(kind):
    "Every sampling path of every text model (MDLM.sample, CoLADD.sample, DiLADD.sample: both schedules)."
    model = tiny_text_model(kind)
    with virtual_device() as rec:
        model.to(DEV)
        for path in model.sampling_paths:
            kw = {} if path in ("-", "ar") else {"schedule": path}
            g = ladd_nb.core.make_generator(0, DEV)
            r = model.sample(3, 4, generator=g, **kw)
            assert r.x.device == DEV and r.x.shape == (3, L)
    print(kind, "sampling: host syncs at", sorted(set(rec.syncs)))


def test_evaluation_on_the_device(kind):
    "heldout_bits (under its memory-bounded batches), heldout_loss and chunked sampling on the device."
    from ladd_nb.metrics import heldout_bits, sample_in_chunks
    from ladd_nb.masked import sampling_bytes
    from ladd_nb.text import heldout_loss

    model = tiny_text_model(kind)
    V = model.process.V if hasattr(model, "process") else model.V
    rows = torch.randint(0, V, (6, L), generator=ladd_nb.core.make_generator(1))
    with virtual_device():
        model.to(DEV)
        path = model.sampling_paths[0]
        if hasattr(
            model, "fit_bound"
        ):  # Co-LADD: the bound's encoder noise, chosen on rows (as text_eval does)
            model.fit_bound(rows.to(DEV), generator=ladd_nb.core.make_generator(2, DEV))
        bits, se = heldout_bits(
            model, rows, repeats=2, batch=4, schedule=None if path in ("-", "ar") else path
        )
        loss = heldout_loss(model, rows, batch=4)
        share = sampling_bytes(2, L, V, 4) / ladd_nb.core.device_memory(DEV)  # room for 2 rows: 3 chunks
        r = sample_in_chunks(model, 5, 4, ladd_nb.core.make_generator(0, DEV), share=share)
    assert 0 < bits < 100 and se >= 0 and all(v == v for v in loss.values())
    assert r.x.shape == (5, L) and r.x.device == DEV


def test_text_eval_on_the_device():
    "The whole `text_eval` of a shipped character model: the model and the reference move to the device."
    from ladd_nb.presets import model_from_checkpoint, shipped_checkpoint, text_eval

    model, c, _ = model_from_checkpoint(shipped_checkpoint("text-char-mdlm"))
    with virtual_device() as rec:
        rows = text_eval(model, c, [2], n=4)
    assert next(model.parameters()).device == DEV
    assert [r["K"] for r in rows] == [2] and rows[0]["gen_ppl"] > 1 and rows[0]["heldout_bits"] > 0
    assert rec.to_host  # the samples come back to the host for scoring


def test_sweep_moves_the_model_to_the_device(tmp_path, capsys):
    "`ladd-nb sweep` of a shipped character model: evaluated on `default_device()`, which it says."
    from ladd_nb.cli import main
    from ladd_nb.presets import shipped_checkpoint

    with virtual_device() as rec:
        assert (
            main(["sweep", str(shipped_checkpoint("text-char-mdlm")), "--steps", "4", "--out", str(tmp_path)])
            == 0
        )
    assert "device: meta" in capsys.readouterr().out
    assert rec.to_host and (tmp_path / "results.csv").exists()


H200 = 139 * 2**30  # the memory one H200 reports (torch's total_memory), in bytes


class OWTShaped(torch.nn.Module):
    "A model of OpenWebText's shape (L = 1024, V = 50,257) whose `sample` allocates nothing: it counts rows."

    L, V = 1024, 50257

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.empty(0, device=DEV))
        self.calls = []

    def sample(self, n, steps, generator=None):
        from ladd_nb.masked import SampleResult

        self.calls.append((n, generator.device))
        x = torch.empty(n, 0, dtype=torch.long, device=DEV)  # no columns: nothing to hold
        return SampleResult(x, {"token": steps + 1}, torch.empty(0), evals={"token": n * (steps + 1)})


def test_256_owt_samples_are_drawn_in_chunks_that_fit_an_h200(monkeypatch):
    "The text_eval sampler at OWT size on one H200 (an estimate only): never refused, every chunk fits."
    import ladd_nb.core as core
    import ladd_nb.masked as masked
    import ladd_nb.metrics as metrics
    from ladd_nb.masked import check_sampling_memory, sampling_bytes

    for m in (core, masked, metrics):
        monkeypatch.setattr(m, "device_memory", lambda device=None: H200)
    with pytest.raises(ValueError, match=r"lower n to at most 80 "):  # all at once: refused (issue 18)
        check_sampling_memory(sampling_bytes(256, 1024, 50257, 64), 256, DEV)
    with virtual_device():
        model = OWTShaped()
        r = metrics.sample_in_chunks(model, 256, 64, core.make_generator(0, DEV))
    sizes = [n for n, _ in model.calls]
    assert sum(sizes) == 256 == len(r.x) and len(sizes) > 1 and all(g == DEV for _, g in model.calls)
    assert all(sampling_bytes(n, 1024, 50257, 64) <= H200 / 4 for n in sizes)
    assert r.nfe == {"token": 65} and r.evals == {"token": 256 * 65}


def test_joint_attention_map_on_the_device():
    "Its rotary tables are made where the inputs are (they were made on the CPU: a GPU refuses to mix them)."
    from ladd_nb.dit import JointDiT, joint_attention_map

    net = JointDiT(27, 4, latent_dim=8)
    with virtual_device():
        net.to(DEV)
        g = ladd_nb.core.make_generator(0, DEV)
        x = torch.randint(0, 27, (2, L), generator=g, device=DEV)
        y = torch.randn(2, 4, 8, generator=g, device=DEV)
        A = joint_attention_map(
            net, x, y, torch.rand(2, generator=g, device=DEV), torch.rand(2, generator=g, device=DEV)
        )
    assert A.device == DEV and A.shape == (L + 4, L + 4)
