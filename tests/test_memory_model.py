"""The memory model of chapter 12a (`ladd_nb.gpumem`): its counter against closed forms, its imitation of
CUDA's bf16 autocast against CUDA's own rules, and every GPU preset's training step and evaluation call under
90 % of an 80 GB H100 at the documented GPU counts, measured on shape-only (`meta`) tensors."""

import ctypes
import pytest
import torch
import torch.nn.functional as F
from torch._subclasses.fake_tensor import FakeTensorMode
from ladd_nb.gpumem import GPU_MEMORY, HEADROOM, LiveBytes, cuda_autocast, flash_attention, memory_rows
from ladd_nb.gpumem import meta_model, run_bytes
from ladd_nb.presets import PRESETS, get_config
from ladd_nb.train import with_micro_batch

GPU_PRESETS = sorted(n for n in PRESETS if n.startswith(("lm1b-", "owt-")))  # chapter 12's recipes
GPUS = (1, 8)  # chapter 12's commands: one GPU, and one node of eight


def test_gpu_presets_listed():
    assert len(GPU_PRESETS) == 8 and {n.split("-")[1] for n in GPU_PRESETS} == {
        "ar",
        "mdlm",
        "coladd",
        "diladd",
    }


def test_counter_matmul_chain():
    "Two products: exactly the bytes of their outputs, the first freed when deleted, views free."
    B, n, m, k = 64, 32, 256, 16
    x, W1, W2 = (torch.empty(s, device="meta") for s in [(B, n), (n, m), (m, k)])
    with LiveBytes(x, W1, W2) as mem:
        start = mem.live
        y = x @ W1
        z = y @ W2
        zt = z.T
        del y
    assert start == 4 * (B * n + n * m + m * k)
    assert mem.peak - start == 4 * B * (m + k)
    assert mem.live - start == 4 * B * k and zt.shape == (k, B)


def _mlp_step(device, rows=1024, d=16, V=512):
    net = torch.nn.Sequential(torch.nn.Linear(d, 4 * d), torch.nn.ReLU(), torch.nn.Linear(4 * d, V)).to(
        device
    )
    x, y = torch.zeros(rows, d, device=device), torch.zeros(rows, dtype=torch.long, device=device)
    with LiveBytes(*net.parameters(), x, y) as mem:
        mem.start = mem.live
        F.cross_entropy(net(x), y).backward()
    return mem


def test_counter_tiny_step_by_hand():
    """Forward keeps the ReLU output and the log-softmax; backward holds the log-softmax, its gradient and the
    logits' gradient at once: the peak by hand, within 10 %; and the same bytes on real CPU tensors."""
    rows, d, V = 1024, 16, 512
    P = d * 4 * d + 4 * d + 4 * d * V + V
    by_hand = 4 * P + 4 * rows * d + 8 * rows + 4 * rows * 4 * d + 3 * 4 * rows * V
    meta = _mlp_step("meta", rows, d, V)
    assert abs(meta.peak / by_hand - 1) < 0.1, (meta.peak, by_hand)
    cpu = _mlp_step("cpu", rows, d, V)
    assert (cpu.peak, cpu.live) == (meta.peak, meta.live)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(k, ctypes.c_size_t) for k in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks")]
    _fields_ += [(k, ctypes.c_size_t) for k in ("fsmblks", "uordblks", "fordblks", "keepcost")]


_mallinfo2 = getattr(ctypes.CDLL(None), "mallinfo2", None)  # glibc 2.33 and later


@pytest.mark.skipif(_mallinfo2 is None, reason="needs glibc's mallinfo2 (Linux)")
def test_counter_agrees_with_glibc():
    "The C library's own bytes in use, read after every op of a real CPU step, peak where `LiveBytes` does."
    from torch.utils._python_dispatch import TorchDispatchMode

    _mallinfo2.restype = _MallInfo2
    in_use = lambda: _mallinfo2().uordblks + _mallinfo2().hblkhd

    class Peak(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            self.peak = max(self.peak, in_use() - self.start)
            return out

    def glibc_peak(rows, d=16, V=512):
        net = torch.nn.Sequential(torch.nn.Linear(d, 4 * d), torch.nn.ReLU(), torch.nn.Linear(4 * d, V))
        x, y = torch.zeros(rows, d), torch.zeros(rows, dtype=torch.long)
        mode = Peak()
        mode.start, mode.peak = in_use(), 0
        with mode:
            F.cross_entropy(net(x), y).backward()
        return mode.peak

    glibc_peak(1024)  # the first step sets up autograd's own buffers
    for rows in (1024, 4096):
        counted = _mlp_step("cpu", rows)
        assert abs(glibc_peak(rows) / (counted.peak - counted.start) - 1) < 0.01, rows


def test_run_state_by_hand():
    "Weights, two AdamW moments and the EMA copy: four fp32 copies of the parameters (+ buffers, counters)."
    _, m = meta_model("owt-mdlm", {"size": "tiny", "micro_batch": 2})
    n = sum(p.numel() for p in m.parameters())
    buffers = sum(b.numel() * b.element_size() for b in m.buffers())
    r = run_bytes("owt-mdlm", {"size": "tiny", "micro_batch": 2})
    assert r["weights"] == 4 * n + buffers
    assert r["state"] == 16 * n + 4 * len(list(m.parameters())) + 2 * buffers + 8
    assert r["step"][1] > r["state"] + 4 * n  # gradients and activations come on top


def test_activations_double_with_micro_batch():
    n = sum(p.numel() for p in meta_model("owt-mdlm", {"size": "tiny"})[1].parameters())
    act = [run_bytes("owt-mdlm", {"size": "tiny", "micro_batch": mb}) for mb in (2, 4)]
    act = [r["step"][1] - r["state"] - 4 * n for r in act]  # above the state and the gradients
    assert 1.8 < act[1] / act[0] < 2.05, act


def test_flash_attention_keeps_no_score_matrix():
    B, H, L, D = 2, 4, 512, 64
    q = torch.empty(B, H, L, D, device="meta", dtype=torch.bfloat16, requires_grad=True)
    peaks = []
    for f in (F.scaled_dot_product_attention, flash_attention):
        with LiveBytes(q) as mem:
            f(q, q, q).sum().backward()
        peaks.append(mem.peak - 2 * B * H * L * D)
    assert peaks[0] > 4 * (2 * B * H * L * L) and peaks[1] < 6 * (2 * B * H * L * D), peaks


def _dtypes(device, autocast):
    ops = {
        "linear": lambda x, w: F.linear(x, w),
        "attention": lambda x, w: F.scaled_dot_product_attention(*[x.view(1, 1, 4, 8)] * 3),
        "layer_norm": lambda x, w: F.layer_norm(x, x.shape[-1:]),
        "log_softmax": lambda x, w: x.log_softmax(-1),
        "softmax": lambda x, w: x.softmax(-1),
        "sum": lambda x, w: x.sum(-1),
        "mean": lambda x, w: x.mean(-1),
        "exp": lambda x, w: x.exp(),
        "cross_entropy": lambda x, w: F.cross_entropy(x, torch.zeros(4, dtype=torch.long, device=x.device)),
        "gelu": lambda x, w: F.gelu(x, approximate="tanh"),
    }
    out = {}
    with FakeTensorMode():
        for dt in (torch.float32, torch.bfloat16):
            x, w = torch.empty(4, 8, device=device, dtype=dt), torch.empty(8, 8, device=device)
            with autocast():
                out |= {(k, dt): f(x, w).dtype for k, f in ops.items()}
    return out


class _RealCudaAutocast:
    "CUDA's own autocast rules, switched on without a GPU (fake CUDA tensors only)."

    def __enter__(self):
        torch.set_autocast_enabled("cuda", True)
        torch.set_autocast_dtype("cuda", torch.bfloat16)

    def __exit__(self, *exc):
        torch.set_autocast_enabled("cuda", False)


def test_autocast_imitation_matches_cuda():
    cuda = _dtypes("cuda", _RealCudaAutocast)
    assert _dtypes("cpu", cuda_autocast) == cuda
    assert (
        cuda["layer_norm", torch.bfloat16] == torch.float32
        and cuda["linear", torch.float32] == torch.bfloat16
    )


@pytest.mark.parametrize("name", GPU_PRESETS)
def test_gpu_preset_fits(name):
    """One training step (each LADD stage) and one evaluation call of the preset at DiT-S and DiT-B, on each
    GPU of a run on 1 or 8 GPUs, under 90 % of an 80 GB H100 (so of an H200 too)."""
    for world in GPUS:  # the global batch splits into micro-batches on every documented GPU count
        c = with_micro_batch(get_config(name), world)
        assert c.grad_accum * c.micro_batch * world == c.batch_size == 512
    for size in ("s", "b"):
        for row in memory_rows(name, size, GPUS[-1]):
            assert max(row["step"], row["eval"]) < HEADROOM * GPU_MEMORY["H100"], row
            assert row["H100"] and row["H200"] and row["step"] > 2**30, row
