"""GPU text benchmark: training tokens/s and model FLOPs utilisation (MFU) of MDLM-B and Co-LADD-B at
OpenWebText's context (GPT-2 vocabulary, L=1024), through the project's own Trainer (bf16 autocast, optional
torch.compile, AdamW, EMA, clipping). Synthetic token batches by default (already on the device: the data
pipeline is not measured); `--data preset` draws them through the preset's own data source instead (the
memory-mapped token cache, host-to-device copies), for example on local text files with `--corpus`.
Finishes in a few minutes on one H100/H200.

    # on a GPU: MDLM-B and Co-LADD-B (both stages), L=1024, batch 32, compiled
    python bench/gpu_text.py
    python bench/gpu_text.py --preset lm1b         # LM1B context instead (BERT vocabulary, L=128)
    # the real data path, on local text (a BPE tokeniser trained on it; no network)
    python bench/gpu_text.py --data preset --corpus 'data/*.txt' --tokenizer bpe --set valid_frac=0.01
    # smoke test
    python bench/gpu_text.py --device cpu --size tiny --length 64 --batch 4 --steps 3 --warmup 1 --no-compile

    # no GPU needed: estimates for one H200 from shape-only tensors (chapter 12a): FLOPs and memory traffic
    # of a step of the preset's global batch (512) in its micro-batches, roofline time, MFU
    python bench/gpu_text.py --dry-run

FLOPs per step are counted by `torch.utils.flop_counter.FlopCounterMode` on one real training step (forward
and backward matmuls and attention, as executed); MFU = FLOPs per step / step time / peak bf16 dense FLOP/s of
the device (`--peak-tflops`, detected for H100/H200/A100). The count is printed next to the 6 N D + attention
estimate of the PaLM paper for comparison.

The dry run (`--dry-run`) builds the models on the `meta` device and runs one micro-batch's forward and
backward under CUDA's bf16 autocast rules with flash attention (`ladd_nb.gpumem`): `FlopCounterMode` counts
its FLOPs, `OpCosts` the bytes each operation reads and writes (bf16 where autocast applies); clipping and the
EMA update are counted the same way, fused AdamW as 28 bytes per trained parameter (it reads weight, gradient
and both moments, and writes weight and moments). Each operation takes max(FLOPs / peak rate, bytes /
bandwidth) (`--peak-tflops`, `--hbm-tbs`: an H200's 989.4 TFLOP/s and 4.8 TB/s by default); their sum is the
estimated step time, and MFU = FLOPs / time / peak rate. It is an estimate of eager, op-by-op execution: every
kernel at one of the two limits (optimistic), but no fusion (pessimistic: torch.compile fuses the elementwise
chains, whose traffic is a large part of the bytes), broadcast inputs counted at their expanded size, and the
datasheet peak rate (real bf16 GEMMs reach less). Neither bound holds: a measured run on a GPU decides.
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


def make_trainer(preset, overrides, device, data="synthetic"):
    """A Trainer of `preset` on synthetic batches made on the device, or (`data='preset'`) on the preset's own
    data source, as `ladd-nb train` feeds it."""
    from ladd_nb.presets import get_config, PRESETS
    from ladd_nb.train import Trainer

    c = get_config(preset, overrides)
    model = PRESETS[preset].build(c)
    if data == "preset":
        source = PRESETS[preset].data(c)
    else:
        V, L = model.process.V if hasattr(model, "process") else model.V, c.length
        source = lambda g, n: torch.randint(V, (n, L), generator=g, device=g.device)
    return Trainer(model, c, source, out_dir=None, progress=False, log=lambda *a: None), c


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
    )  # compiled kernels hide their FLOPs: count eagerly (synthetic batches: the same shapes)
    fl = flops_per_step(eager)
    del eager
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)  # report the timed run's peak
    tr, c = make_trainer(preset, overrides, device, args.data)
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
        data=args.data,
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


def dry_run_row(label, preset, overrides, stage, args):
    """Estimates for one GPU from shape-only tensors: FLOPs and bytes moved by a step of the global batch (one
    micro-batch measured, times the accumulation steps, plus clipping, EMA and fused AdamW), roofline time,
    MFU."""
    from ladd_nb.gpumem import OpCosts, meta_model, micro_step, roofline_seconds, set_stage
    from ladd_nb.train import ema_update, with_micro_batch
    from torch.optim.swa_utils import AveragedModel

    c, model = meta_model(preset, overrides)
    c = with_micro_batch(c, 1)
    set_stage(model, c, stage)
    with FlopCounterMode(display=False) as fc, OpCosts() as micro:
        micro_step(model, c, 1)
    trained = [p for p in model.parameters() if p.requires_grad]
    ema = AveragedModel(model)
    with OpCosts() as update:
        torch.nn.utils.clip_grad_norm_(trained, c.grad_clip if c.grad_clip > 0 else math.inf)
        ema_update(ema, model, c.ema, first=False)
    n_trained = sum(p.numel() for p in trained)
    adamw = [("fused_adamw", 0, 28 * n_trained)]  # reads weight, gradient, 2 moments; writes weight, moments
    flops = c.grad_accum * fc.get_total_flops()
    assert c.grad_accum * sum(f for _, f, _ in micro.ops) == flops  # the same formulas, the same count
    peak, bandwidth = args.peak_tflops * 1e12, args.hbm_tbs * 1e12
    step_s = c.grad_accum * roofline_seconds(micro.ops, peak, bandwidth)
    step_s += roofline_seconds(update.ops + adamw, peak, bandwidth)
    moved = c.grad_accum * sum(b for *_, b in micro.ops) + sum(b for *_, b in update.ops + adamw)
    tokens = c.batch_size * c.length
    sig = lambda v: float(f"{v:.4g}")  # four significant digits
    compute_s = sum(f / peak for _, f, b in micro.ops if f / peak >= b / bandwidth)
    row = dict(
        model=label,
        preset=preset,
        size=c.size,
        length=c.length,
        batch=c.batch_size,
        micro_batch=c.micro_batch,
        grad_accum=c.grad_accum,
        tflops_per_step=sig(flops / 1e12),
        palm_tflops_per_step=sig(palm_flops(model, c, tokens) / 1e12),
        traffic_gb_per_step=sig(moved / 1e9),
        est_step_s=sig(step_s),
        est_tokens_per_s=round(tokens / step_s),
        est_mfu=sig(flops / step_s / peak),
        # the share of a micro-batch's estimated time in operations limited by the FLOP rate (not by memory)
        compute_bound_share=sig(compute_s / roofline_seconds(micro.ops, peak, bandwidth)),
    )
    print(json.dumps(row), flush=True)
    return row


def dry_run(args, common):
    "The dry run's rows: MDLM and Co-LADD, both stages, estimated for one GPU (`--peak-tflops`, `--hbm-tbs`)."
    rows = [
        dry_run_row("MDLM", f"{args.preset}-mdlm", common, 1, args),
        dry_run_row("Co-LADD stage 1", f"{args.preset}-coladd", common, 1, args),
        dry_run_row("Co-LADD stage 2", f"{args.preset}-coladd", common, 2, args),
    ]
    for r in rows:
        name = f"{r['model']}, size {r['size'].upper()}"
        print(
            f"{name}: {r['tflops_per_step']:g} TFLOP and {r['traffic_gb_per_step']:g} GB moved per step; "
            f"estimated {r['est_step_s']:g} s per step, MFU {100 * r['est_mfu']:.1f}% (roofline)",
            flush=True,
        )
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="owt", choices=["owt", "lm1b"])
    ap.add_argument("--size", default="b")
    ap.add_argument("--length", type=int)
    ap.add_argument("--batch", type=int, help="global batch (default: 32; dry run: the preset's)")
    ap.add_argument(
        "--micro-batch", type=int, help="rows per forward pass (default: the batch; dry run: the preset's)"
    )
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--peak-tflops",
        type=float,
        help="peak bf16 dense TFLOP/s of the device (detected for H100/H200/A100)",
    )
    ap.add_argument("--hbm-tbs", type=float, default=4.8, help="dry run: memory bandwidth, TB/s (H200: 4.8)")
    ap.add_argument("--dry-run", action="store_true", help="estimates from shape-only tensors; no GPU needed")
    ap.add_argument("--data", default="synthetic", choices=["synthetic", "preset"], help="batches drawn how")
    ap.add_argument(
        "--corpus", help="--data preset: the corpus (local text files: a path, a glob, or a list)"
    )
    ap.add_argument("--tokenizer", help="--data preset: the tokeniser (e.g. bpe, trained on the corpus)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more preset overrides")
    ap.add_argument("--out", help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    if args.dry_run:
        args.peak_tflops = args.peak_tflops or PEAK_BF16_TFLOPS["H200"]
        common = {"size": args.size} | ({"length": args.length} if args.length else {})
        common |= {"batch_size": args.batch} if args.batch else {}
        common |= {"micro_batch": args.micro_batch} if args.micro_batch else {}
        gpu = f"{args.peak_tflops:g} TFLOP/s and {args.hbm_tbs:g} TB/s"
        print(f"dry run: estimates for one GPU of {gpu}; torch {torch.__version__}", flush=True)
        rows = dry_run(args, common)
        if args.out:
            Path(args.out).write_text(json.dumps(rows, indent=1))
        return rows
    args.batch = args.batch or 32
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", 0)  # the Trainer's device without torchrun
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    common = {
        "size": args.size,
        "batch_size": args.batch,
        "micro_batch": args.micro_batch or args.batch,  # one micro-batch per step unless asked
        "compile": not args.no_compile,
        "bf16": True,
        "ema": 0.9999,
    }
    if args.length:
        common["length"] = args.length
    for k in ("corpus", "tokenizer"):
        if getattr(args, k):
            common[k] = getattr(args, k)
    common |= dict(kv.split("=", 1) for kv in args.set)  # strings: the preset converts them
    if args.data == "preset":
        common["allow_network"] = False  # local data, or a cache `ladd-nb prepare` made
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
        print(f"MDLM-{args.size.upper()} MFU = {100 * rows[0]['mfu']:.1f}% (target >= 40%, issue 19)")
    print(f"benchmark done in {time.perf_counter() - t0:.0f}s")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
