#!/usr/bin/env python
"""The LADD options ablation: stage-1 variant and p_r implementation, on the 2D toy and on binsaw.

Every variant is a preset plus overrides, trained with the project's own trainer (the same as `ladd-nb
train`), then evaluated exactly where the law is known:

- toy (eight Gaussians, V = 32): exact KL(data || model) at K = 1, 2, 4 token steps for each sampling schedule
  (Co-LADD: exact given each sampled latent, averaged over 20,000 latents), and the held-out bound in bits per
  pair for that schedule (20,000 fresh pairs);
- binsaw (L = 128, the MLP networks of the shipped checkpoints): the NLL gap to the data entropy at K = 1, 4,
  16 from 1,000 samples scored exactly, and the held-out bound in bits per sequence (1,024 fresh sequences).

    python tools/ablation.py toy  --jobs 2       # about 25 minutes on 2 cores
    python tools/ablation.py binsaw --jobs 2     # about an hour on 2 cores

Runs go to runs/ablation/<suite>/<variant>-s<seed> (a finished run is reused); the table is written to
nbs/results/ablation_<suite>.csv, which chapters 6b and 7b read.
"""

import argparse, csv, json, math, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TOY = "density=eight_gaussians"
BINSAW_COMMON = [
    "arch=mlp",
    "train_steps=6000",
    "lr=1e-3",
    "warmup_steps=200",
    "lr_schedule=cosine",
    "stage1_steps=2500",
]
BINSAW_COLADD = BINSAW_COMMON + ["d=4", "enc_sigma=0.2", "kl_weight=0.05", "loss_x=ce", "loss_y=mse", "ema=0"]
BINSAW_DILADD = BINSAW_COMMON + ["cosine=False", "n_codes=128", "d=8", "loss_x=ce", "loss_y=ce"]

SUITES = {
    "toy": {
        "seeds": (0, 1),
        "variants": {
            "coladd-seq": ("toy2d-coladd", [TOY, "schedule=sequential"]),
            "coladd-seq-pr-mask": ("toy2d-coladd", [TOY, "schedule=sequential", "p_r=True", "p_r_mode=mask"]),
            "coladd-seq-pr-zero": ("toy2d-coladd", [TOY, "schedule=sequential", "p_r=True", "p_r_mode=zero"]),
            "coladd-joint-clean": ("toy2d-coladd", [TOY, "schedule=joint", "stage1=clean"]),
            "coladd-joint-noisy": ("toy2d-coladd", [TOY, "schedule=joint", "stage1=noisy"]),
            "coladd-joint-noisy-pr": (
                "toy2d-coladd",
                [TOY, "schedule=joint", "stage1=noisy", "p_r=True", "p_r_mode=zero"],
            ),
            "diladd-clean": ("toy2d-diladd", [TOY, "stage1=clean"]),
            "diladd-noisy": ("toy2d-diladd", [TOY, "stage1=noisy"]),
            # restart threshold: 0.5 of the mean count (LADD's 2 at 2,048 vectors and 511 codes)
            # is aggressive with
            # 16 codes; 0.03 is the old absolute 2 at this batch (1,024 vectors, 16 codes)
            "diladd-noisy-dead0.1": ("toy2d-diladd", [TOY, "stage1=noisy", "dead_fraction=0.1"]),
            "diladd-noisy-dead0.03": ("toy2d-diladd", [TOY, "stage1=noisy", "dead_fraction=0.03"]),
        },
    },
    "binsaw": {
        "seeds": (0,),
        "variants": {
            "coladd-seq": ("binsaw-coladd", BINSAW_COLADD + ["schedule=sequential"]),
            "coladd-seq-pr-zero": (
                "binsaw-coladd",
                BINSAW_COLADD + ["schedule=sequential", "p_r=True", "p_r_mode=zero"],
            ),
            "coladd-joint-clean": ("binsaw-coladd", BINSAW_COLADD + ["schedule=joint", "stage1=clean"]),
            "coladd-joint-noisy": ("binsaw-coladd", BINSAW_COLADD + ["schedule=joint", "stage1=noisy"]),
            "diladd-clean": ("binsaw-diladd", BINSAW_DILADD + ["stage1=clean"]),
            "diladd-noisy": ("binsaw-diladd", BINSAW_DILADD + ["stage1=noisy"]),
            "diladd-noisy-dead0.1": ("binsaw-diladd", BINSAW_DILADD + ["stage1=noisy", "dead_fraction=0.1"]),
        },
    },
}


def train(suite, variant, seed):
    "Train one variant (reusing a finished run); returns (run folder, training seconds)."
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ladd_nb.presets import train_preset
    from ladd_nb.train import read_metrics, list_checkpoints

    preset, overrides = SUITES[suite]["variants"][variant]
    out = ROOT / "runs" / "ablation" / suite / f"{variant}-s{seed}"
    done = out / "done.json"
    if not done.exists():
        t0 = time.perf_counter()
        train_preset(
            preset,
            overrides + [f"seed={seed}"],
            out_dir=out,
            resume=True,
            progress=False,
            log=lambda *a: None,
        )
        done.write_text(json.dumps({"seconds": round(time.perf_counter() - t0, 1)}))
    return out, json.loads(done.read_text())["seconds"]


def evaluate(suite, variant, seed, out, seconds):
    "Rows of the ablation table for one trained variant."
    import torch
    from ladd_nb.core import make_generator
    from ladd_nb.presets import model_from_checkpoint
    from ladd_nb.train import list_checkpoints

    model, c, p = model_from_checkpoint(list_checkpoints(out)[0])
    base = dict(suite=suite, variant=variant, seed=seed, train_s=seconds)
    if suite == "toy":
        return _toy_rows(model, c, base)
    from ladd_nb.binsaw import binsaw_eval

    return [
        base | {k: r[k] for k in ("schedule", "K", "nll_gap_bits", "se_bits", "heldout_bits", "heldout_se")}
        for r in binsaw_eval(model, c, (1, 4, 16), oracle=False, seed=seed)
    ]


def _toy_rows(model, c, base):
    import torch
    from ladd_nb.core import make_generator
    from ladd_nb.toy2d import density_table, sample_table, kl_tv

    P = density_table(c.density, c.V)
    if hasattr(model, "fit_bound"):  # the bound's free settings, on pairs other than the held-out ones
        model.fit_bound(
            sample_table(P, 4_000, generator=make_generator(base["seed"] + 10_000)),
            generator=make_generator(base["seed"]),
        )
    held = sample_table(P, 20_000, generator=make_generator(base["seed"] + 20_000))
    nll = -P[held[:, 0], held[:, 1]].log().double()
    rows = []
    for s, laws in _toy_laws(model, c, base["seed"]).items():
        gap = (
            model.nll_bound(held, schedule=s, generator=make_generator(base["seed"] + 30_000)) - nll
        ) / math.log(2)
        for K, law in laws.items():
            rows.append(
                base
                | dict(
                    schedule=s,
                    K=K,
                    kl=round(kl_tv(P, law)[0], 5),
                    heldout_gap_bits=round(float(gap.mean()), 4),
                    heldout_se=round(float(gap.std() / math.sqrt(len(gap))), 4),
                )
            )
    return rows


def _toy_laws(model, c, seed):
    "{schedule: {K: exact law}} for K = 1, 2, 4."
    from ladd_nb.core import make_generator

    Ks = [1, 2, 4]
    if hasattr(model, "vq"):
        from ladd_nb.presets import diladd_toy_laws

        laws = diladd_toy_laws(model, Ks, c.eval_latent_steps)
        return {s: {K: laws[s, K] for K in Ks} for s in ("sequential", "joint")}
    from ladd_nb.presets import coladd_toy_law

    laws = coladd_toy_law(model, c, Ks, make_generator(seed), n=20_000)
    return {model.schedule: laws}


def run(job):
    suite, variant, seed = job
    out, seconds = train(suite, variant, seed)
    return evaluate(suite, variant, seed, out, seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", choices=list(SUITES))
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel (one thread each)")
    ap.add_argument("--only", nargs="*", help="variants to run (default all)")
    a = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    s = SUITES[a.suite]
    jobs = [(a.suite, v, seed) for v in s["variants"] if not a.only or v in a.only for seed in s["seeds"]]
    rows = []
    with ProcessPoolExecutor(a.jobs) as pool:
        for job, res in zip(jobs, pool.map(run, jobs)):
            print(f"{job[1]} seed {job[2]}: {len(res)} rows", flush=True)
            rows += res
    dest = ROOT / "nbs" / "results" / f"ablation_{a.suite}.csv"
    dest.parent.mkdir(exist_ok=True)
    if dest.exists():  # keep the rows of variants not re-run now
        ran = {(r["variant"], r["seed"]) for r in rows}
        old = [r for r in csv.DictReader(open(dest)) if (r["variant"], int(r["seed"])) not in ran]
        rows = old + rows
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(dest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {dest.relative_to(ROOT)} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
