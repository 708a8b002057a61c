"""GPU text benchmark: training tokens/s and model FLOPs utilisation (MFU) of MDLM-B and Co-LADD-B at
OpenWebText's context (GPT-2 vocabulary, L=1024), through the project's own Trainer (bf16 autocast, optional
torch.compile, AdamW, EMA, clipping). Synthetic token batches: the data pipeline is not what is measured.
Finishes in a few minutes on one H100/H200.

    # on a GPU: MDLM-B and Co-LADD-B (both stages), L=1024, batch 32, compiled
    python bench/gpu_text.py
    python bench/gpu_text.py --preset lm1b         # LM1B context instead (BERT vocabulary, L=128)
    # smoke test
    python bench/gpu_text.py --device cpu --size tiny --length 64 --batch 4 --steps 3 --warmup 1 --no-compile

FLOPs per step are counted by `torch.utils.flop_counter.FlopCounterMode` on one real training step (forward
and backward matmuls and attention, as executed); MFU = FLOPs per step / step time / peak bf16 dense FLOP/s of
the device (`--peak-tflops`, detected for H100/H200/A100). The count is printed next to the 6 N D + attention
estimate of the PaLM paper for comparison.
"""

import argparse, json, math, sys, time
from pathlib import Path
import torch
from torch.utils.flop_counter import FlopCounterMode

PEAK_BF16_TFLOPS = {
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.4,
    "A100": 312.0,
    "L40S": 362.0,
    "A10G": 125.0,
}  # dense, no sparsity; first match wins


def peak_tflops(device, given):
    if given:
        return given
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for k, v in PEAK_BF16_TFLOPS.items():
        if k in name:
            return v
    return None


def make_trainer(preset, overrides, device):
    from ladd_nb.presets import get_config, PRESETS
    from ladd_nb.train import Trainer

    c = get_config(preset, overrides)
    model = PRESETS[preset].build(c)
    V, L = model.process.V if hasattr(model, "process") else model.V, c.length
    data = lambda g, n: torch.randint(V, (n, L), generator=g, device=g.device)
    return Trainer(model, c, data, out_dir=None, progress=False, log=lambda *a: None), c


def flops_per_step(tr):
    "FLOPs of one real training step (counted, forward + backward)."
    with FlopCounterMode(display=False) as fc:
        tr.train_step()
    return fc.get_total_flops()


def palm_flops(model, c, tokens):
    """6 N D + 12 layers L d D (N trainable parameters outside embedding tables, D tokens): the usual analytic
    estimate."""
    n = sum(
        p.numel()
        for m in model.modules()
        if not isinstance(m, torch.nn.Embedding)
        for p in m.parameters(recurse=False)
        if p.requires_grad
    )
    from ladd_nb.dit import get_size

    s = get_size(c.size)
    return 6 * n * tokens + 12 * s.depth * c.length * s.dim * tokens


def bench_one(label, preset, overrides, args, device):
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    eager, _ = make_trainer(
        preset, overrides | {"compile": False}, device
    )  # compiled kernels hide their FLOPs: count eagerly
    fl = flops_per_step(eager)
    del eager
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)  # report the timed run's peak
    tr, c = make_trainer(preset, overrides, device)
    if tr.device != device:
        raise SystemExit(
            f"the Trainer runs on {tr.device}, not {device}: pick the GPU with CUDA_VISIBLE_DEVICES"
        )
    for _ in range(args.warmup):
        tr.train_step()  # compile and autotune happen here
    t0 = time.perf_counter()
    for _ in range(args.steps):
        tr.train_step()
    sync()
    dt = (time.perf_counter() - t0) / args.steps
    tokens = c.batch_size * c.length
    row = dict(
        model=label,
        preset=preset,
        size=c.size,
        length=c.length,
        batch=c.batch_size,
        step_s=round(dt, 4),
        tokens_per_s=round(tokens / dt),
        tflops_per_step=round(fl / 1e12, 3),
        palm_tflops_per_step=round(palm_flops(tr.model, c, tokens) / 1e12, 3),
        achieved_tflops=round(fl / dt / 1e12, 1),
        params_m=round(sum(p.numel() for p in tr.model.parameters()) / 1e6, 1),
    )
    peak = peak_tflops(device, args.peak_tflops)
    row["mfu"] = round(fl / dt / (peak * 1e12), 4) if peak else None
    if device.type == "cuda":
        row["max_mem_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 1)
    print(json.dumps(row), flush=True)
    del tr
    torch.cuda.empty_cache() if device.type == "cuda" else None
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="owt", choices=["owt", "lm1b"])
    ap.add_argument("--size", default="b")
    ap.add_argument("--length", type=int)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--peak-tflops",
        type=float,
        help="peak bf16 dense TFLOP/s of the device (detected for H100/H200/A100)",
    )
    ap.add_argument("--out", help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", 0)  # the Trainer's device without torchrun
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    common = {
        "size": args.size,
        "batch_size": args.batch,
        "compile": not args.no_compile,
        "bf16": True,
        "ema": 0.9999,
    }
    if args.length:
        common["length"] = args.length
    print(
        f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}; torch "
        f"{torch.__version__}; {vars(args)}",
        flush=True,
    )
    t0 = time.perf_counter()
    rows = [
        bench_one("MDLM", f"{args.preset}-mdlm", common, args, device),
        bench_one("Co-LADD stage 1", f"{args.preset}-coladd", common | {"stage1_steps": 10**9}, args, device),
        bench_one("Co-LADD stage 2", f"{args.preset}-coladd", common | {"stage1_steps": 0}, args, device),
    ]
    base = rows[0]["step_s"]
    for r in rows[1:]:
        print(f"{r['model']}: step time / MDLM = {r['step_s'] / base:.2f}x", flush=True)
    if rows[0]["mfu"] is not None:
        print(f"MDLM-{args.size.upper()} MFU = {100 * rows[0]['mfu']:.1f}% (target >= 35%)")
    print(f"benchmark done in {time.perf_counter() - t0:.0f}s")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
