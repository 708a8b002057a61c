"""Issue 19's device check, run by `bench/device_check.sh`: on one GPU, 200 compiled training steps of
MDLM-S and of Co-LADD-S (100 steps of stage 1, then 100 of stage 2) on LM1B-like local data (sentences of
128 tokens: the CPython documentation with a byte-level BPE trained on it, so nothing comes from the hub),
then the GPU text benchmark (`bench/gpu_text.py`, called by its command line). For each run it prints and
stores tokens/s (over the last 75 steps, after compilation and the stage switch), the model FLOPs
utilisation (FLOPs of one step counted by FlopCounterMode, over the GPU's bf16 dense peak) and the peak
memory (`torch.cuda.max_memory_allocated`); everything goes to `<out>/device_check.json`.

`--smoke` runs the same path on any device at toy sizes (tiny DiT, characters, 32 tokens, a few steps, no
compile): a test that the script works, not a measurement."""

import argparse, json, subprocess, sys, time
from pathlib import Path
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ladd_nb.presets import preset_trainer  # noqa: E402
from ladd_nb.text import text_data  # noqa: E402

H200_BF16_TFLOPS = 989.4  # dense bf16 peak of the H200 (NVIDIA's datasheet); other GPUs: --peak-tflops
LM1B_LIKE = dict(corpus="cpython-docs", tokenizer="bpe", bpe_vocab=4096, length=128, allow_network=False)
SMOKE = dict(corpus="cpython-docs", tokenizer="char", length=32, allow_network=False, size="tiny")


def settings(smoke: bool, steps: int) -> dict:
    "The overrides of the lm1b-* presets for this check: local data, no evaluation or checkpoint, compiled."
    run = dict(train_steps=steps, stage1_steps=steps // 2, warmup_steps=min(20, steps), log_every=25)
    run |= dict(eval_every=0, ckpt_every=0, seed=0)
    if smoke:
        return SMOKE | run | dict(batch_size=8, micro_batch=4, compile=False, n_slots=2, d=4, log_every=1)
    return LM1B_LIKE | run | dict(size="s", compile=True)


def sync(device):
    "Wait for the device (timing only)."
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_flops(tr) -> int:
    "FLOPs of one optimiser step's forward and backward passes (all micro-batches), counted eagerly."
    batch = tr.data(tr.data_gen, tr.cfg.batch_size).to(tr.device)
    with torch.compiler.set_stance("force_eager"), FlopCounterMode(display=False) as fc:
        tr.accumulate_grads(batch)
    tr.opt.zero_grad(set_to_none=True)
    return fc.get_total_flops()


def train_run(model: str, over: dict, steps: int, peak_tflops: float) -> dict:
    "Train preset lm1b-`model` for `steps` steps with `over`; tokens/s, MFU, peak memory and the losses."
    tr = preset_trainer(f"lm1b-{model}", [f"{k}={v}" for k, v in over.items()], progress=False, log=print)
    if tr.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(tr.device)
    tokens = tr.cfg.batch_size * over["length"]
    times, losses = {}, {}
    t0 = time.perf_counter()
    for _ in range(steps):
        m = tr.train_step()
        if tr.log_due():
            losses[tr.step] = tr.sync_metrics(m)["loss"]  # a wait for the device: the clock is right here
        if tr.step in (1, steps - steps * 3 // 8, steps):
            sync(tr.device)
            times[tr.step] = time.perf_counter() - t0
    first, last = steps - steps * 3 // 8, steps
    step_s = (times[last] - times[first]) / max(1, last - first)
    flops = step_flops(tr)
    row = dict(
        model=f"{model}-{over['size']}", steps=steps, batch=tr.cfg.batch_size, grad_accum=tr.cfg.grad_accum
    )
    row |= dict(length=over["length"], first_step_s=round(times[1], 2), total_s=round(times[last], 1))
    row |= dict(step_s=round(step_s, 4), tokens_per_s=round(tokens / step_s), flops_per_step=flops)
    row |= dict(mfu=round(flops / step_s / (peak_tflops * 1e12), 4), losses=losses)
    if tr.device.type == "cuda":
        row["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(tr.device) / 2**30, 2)
    return row


def benchmark(args, budget_s: float) -> dict:
    "`bench/gpu_text.py` by its command line (what it prints is passed on); its JSON rows, or why none."
    out = Path(args.out) / "gpu_text.json"
    cmd = [sys.executable, str(ROOT / "bench" / "gpu_text.py"), "--out", str(out), "--device", args.device]
    if args.smoke:
        cmd += ["--size", "tiny", "--length", "64", "--batch", "2", "--steps", "1", "--warmup", "1"]
        cmd += ["--no-compile", "--peak-tflops", "1"]
    else:
        cmd += ["--preset", "owt", "--size", "b", "--steps", "10", "--warmup", "3"]
    try:
        r = subprocess.run(cmd, timeout=max(30, budget_s), text=True, capture_output=True)
    except subprocess.TimeoutExpired:
        return {"error": f"the benchmark ran past the {budget_s:.0f} s left"}
    print(r.stdout + r.stderr[-2000:], flush=True)
    return json.loads(out.read_text()) if r.returncode == 0 and out.exists() else {"error": r.stderr[-500:]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true", help="toy sizes, any device: checks the script")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--peak-tflops", type=float, default=H200_BF16_TFLOPS)
    ap.add_argument("--budget-s", type=float, default=480, help="all of it, compilation included")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("device_check: no CUDA device here; run it with DEVICE=cpu for the smoke mode")
    t0 = time.perf_counter()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    dev = torch.cuda.get_device_name(0) if args.device == "cuda" else args.device
    res = dict(device=dev, torch=torch.__version__, smoke=args.smoke, peak_tflops=args.peak_tflops)
    over = settings(args.smoke, args.steps)
    data = text_data(
        *(over[k] for k in ("corpus", "tokenizer", "length")), bpe_vocab=over.get("bpe_vocab", 1024)
    )
    res["data"] = dict(
        train_rows=len(data.train), vocab=data.tokenizer.vocab_size, s=round(time.perf_counter() - t0, 1)
    )
    print(f"data: {res['data']}", flush=True)
    res["runs"] = []
    for model in ("mdlm", "coladd"):
        res["runs"].append(train_run(model, over, args.steps, args.peak_tflops))
        print(json.dumps(res["runs"][-1]), flush=True)
    res["benchmark"] = benchmark(args, args.budget_s - (time.perf_counter() - t0))
    res["total_s"] = round(time.perf_counter() - t0, 1)
    (Path(args.out) / "device_check.json").write_text(json.dumps(res, indent=1))
    for r in res["runs"]:
        mem = f", peak memory {r['peak_mem_gib']} GiB" if "peak_mem_gib" in r else ""
        print(f"{r['model']}: {r['tokens_per_s']:,} tokens/s, MFU {100 * r['mfu']:.1f}%{mem}")
    print(f"device check done in {res['total_s']} s (budget {args.budget_s:.0f} s)")


if __name__ == "__main__":
    main()
