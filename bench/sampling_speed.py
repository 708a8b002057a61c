"""The masked sampler's three skip rules, measured side by side in one run (on the CPU).

For each step budget K and batch size, the same K-step ancestral sampling of L-token sequences with a
time-free DiT (MDLM's: it ignores t), under the three rules of `ladd_nb.masked.SKIP_RULES`:

- `none`: the network is called on every row at every step (K + 1 calls);
- `batch`: every row, only when some token of the batch changed since the last call (MDLM's cached sampler);
- `sequence`: only the rows that changed since their last evaluation and still hold a mask.

Printed per (K, batch, rule): network calls, sequence evaluations (rows over all calls), the median wall
time of a whole sampling run with its range (min..max over the repeats), and the speed-up over `none` (median
of the round-by-round ratios: the rules run round-robin, so machine noise hits them alike). The weights are
random, with the zero-initialised adaLN and head perturbed so that the logits are not all zero; the reveal
pattern, and so the cost, does not depend on them. Each setting reports how many samples differ between the
rules for the same seed: none for an exact denoiser; for a network, a subset of rows may round its last bits
differently from the full batch, which could (very rarely) move a draw. The last line pairs the per-sequence
and the batch-level rule round by round and reports the worst setting.

    OMP_NUM_THREADS=1 .venv/bin/python bench/sampling_speed.py [--size tiny] [--steps 16 64 256 1024]
    [--batches 1 16 64] [--length 128] [--repeats 3]
"""

import argparse
import statistics
import torch
from timing import interleaved_times, paired_ratios
from ladd_nb.core import make_generator
from ladd_nb.dit import DiT, perturb_zero_init
from ladd_nb.masked import MDLM, SKIP_RULES


def run_fns(model, n, K, results):
    "{rule: callable} that samples n sequences with K steps under each rule, keeping the last result."

    def fn(rule):
        def run():
            results[rule] = model.sample(n, steps=K, skip=rule, generator=make_generator(K + n))

        return run

    return {rule: fn(rule) for rule in SKIP_RULES}


def spread(xs) -> str:
    "Median and range of `xs` seconds, as text."
    return f"{statistics.median(xs):>9.3f} [{min(xs):>7.3f}, {max(xs):>7.3f}]"


def measure(model, K, n, repeats):
    "Rows {K, batch, rule, calls, evals, times, speedup, differ, over_batch} of the three rules at a setting."
    results = {}
    with torch.inference_mode():
        ts = interleaved_times(run_fns(model, n, K, results), repeats, warmup=0)
    rows = []
    for rule in SKIP_RULES:
        speedup = statistics.median(paired_ratios(ts["none"], ts[rule]))
        r = results[rule]
        differ = int((r.x != results["none"].x).any(1).sum())  # samples unlike those of calling every step
        row = dict(K=K, batch=n, rule=rule, calls=r.nfe["token"], evals=r.evals["token"], times=ts[rule])
        rows.append(row | dict(speedup=speedup, differ=differ, over_batch=0.0))
    rows[2]["over_batch"] = statistics.median(paired_ratios(ts["batch"], ts["sequence"]))
    return rows


def check_acceptance(rows, L):
    "The issue's targets, from the measured rows."
    at = {(r["K"], r["batch"], r["rule"]): r for r in rows}
    if (1024, 16, "sequence") in at:
        r = at[1024, 16, "sequence"]
        print(
            f"K=1024, batch 16: {r['evals']:,} sequence evaluations (target <= 2 x 16 x {L + 1} = "
            f"{2 * 16 * (L + 1):,}; every step: {at[1024, 16, 'none']['evals']:,}); "
            f"{r['speedup']:.2f}x faster than every step (target >= 4x)"
        )
    worst = min((r["over_batch"], k, n) for (k, n, rule), r in at.items() if rule == "sequence")
    print(
        f"per-sequence rule over the batch-level rule, worst setting: {worst[0]:.2f}x at K={worst[1]}, "
        f"batch {worst[2]}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--vocab", type=int, default=27)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, nargs="+", default=[16, 64, 256, 1024])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    model = MDLM(perturb_zero_init(DiT(a.vocab, a.size), std=0.3), a.vocab, a.length).eval()
    assert model.time_free  # declared by the DiT (time_cond=False), not guessed here
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, DiT {a.size}, L={a.length}, "
        f"V={a.vocab}, {a.repeats} interleaved repeats per setting; times in seconds per sampling run"
    )
    head = f"{'K':>5} {'batch':>5} {'rule':>9} {'calls':>6} {'evals':>7}"
    print(f"{head} {'median s':>9} {'min..max s':^19} {'speed-up':>9} {'differ':>6}")
    rows = []
    with torch.inference_mode():
        model.sample(2, steps=4)  # warm-up: first-call costs out of the timings
    for K in a.steps:
        for n in a.batches:
            for r in measure(model, K, n, a.repeats):
                rows.append(r)
                print(
                    f"{K:>5} {n:>5} {r['rule']:>9} {r['calls']:>6} {r['evals']:>7} {spread(r['times'])} "
                    f"{r['speedup']:>8.2f}x {r['differ']:>6}"
                )
    check_acceptance(rows, a.length)


if __name__ == "__main__":
    main()
