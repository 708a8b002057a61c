#!/usr/bin/env python
"""The character-level text verdict (chapter 10): five models, three seeds each, evaluated with one protocol.

Trains nothing: it evaluates the runs that `ladd-nb train` wrote (ladd_nb/checkpoints/README.md has the
commands), runs/text15/<run>-s<seed>/ckpt_<steps>.pt, with <run> one of mdlm, mdlm-cm, coladd, diladd, minilm.
For each run: `text_eval` at the token budgets K (gen PPL under the shipped AR reference, per-sample
entropy, token KL, held-out bits of the sampling path), the run's seed as the sampling seed. For each model:
the training FLOPs counted by `training_flops`. Writes

- nbs/results/text_verdict_seeds.csv: one row per (model, seed, K);
- nbs/results/text_verdict.csv: one row per (model, K), mean and standard error over the seeds;

which chapter 10 reads. A run's rows are kept in its folder (verdict.json) and reused; `--wait` polls until
every run has finished training (for running next to the training queue).

    OMP_NUM_THREADS=1 python tools/text_verdict.py [--wait] [--n 128] [--steps 4,8,16,64]
"""

import argparse, json, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0, 1, 2)
SEED_COLS = (
    "model seed K n nfe_latent nfe_token nfe_joint gen_ppl entropy token_kl heldout_bits heldout_bits_se"
)
SEED_COLS = SEED_COLS.split() + "bound_sigma bound_t_min train_flops sample_s eval_s".split()


def final_checkpoint(run: Path) -> Path | None:
    "The run's last checkpoint once training has finished (the runner's DONE marker), else None."
    ckpts = sorted(run.glob("ckpt_*.pt"))
    return ckpts[-1] if (run / "DONE").exists() and ckpts else None


def flops_of(label: str, cache: Path) -> dict:
    "Training FLOPs of the model `label` (seed 0's config; the count does not depend on the seed), cached."
    from ladd_nb.presets import get_config
    from ladd_nb.studies import TEXT_RUNS, training_flops

    done = json.loads(cache.read_text()) if cache.exists() else {}
    if label not in done:
        preset, over = TEXT_RUNS[label]
        done[label] = training_flops(get_config(preset, over))
        cache.write_text(json.dumps(done, indent=1))
    return done[label]


def evaluate_run(label: str, ckpt: Path, args, ref) -> list[dict]:
    "The rows of one run, from its verdict.json if it was evaluated with these settings, else evaluated now."
    from ladd_nb.studies import verdict_rows

    saved = ckpt.parent / "verdict.json"
    key = {"ckpt": ckpt.name, "n": args.n, "steps": args.steps}
    if saved.exists() and json.loads(saved.read_text())["key"] == key:
        return json.loads(saved.read_text())["rows"]
    t0 = time.time()
    rows = verdict_rows(label, ckpt, args.steps, args.n, ref=ref)
    for r in rows:
        r["eval_s"] = round(time.time() - t0, 1)
    saved.write_text(json.dumps({"key": key, "rows": rows}, indent=1))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default=str(ROOT / "runs" / "text15"))
    ap.add_argument("--out", default=str(ROOT / "nbs" / "results"))
    ap.add_argument("--n", type=int, default=128, help="samples per (model, K)")
    ap.add_argument("--steps", default="4,8,16,64", help="token step budgets K")
    ap.add_argument("--wait", action="store_true", help="poll until every run has finished")
    args = ap.parse_args(argv)
    args.steps = [int(k) for k in args.steps.split(",")]
    from ladd_nb.core import write_table
    from ladd_nb.presets import get_config, load_reference
    from ladd_nb.studies import TEXT_RUN_DIRS, aggregate_seeds

    ref, runs = load_reference(get_config("text-char-mdlm")), Path(args.runs)
    todo = {(label, s): runs / f"{name}-s{s}" for label, name in TEXT_RUN_DIRS.items() for s in SEEDS}
    done = {}
    while len(done) < len(todo):
        for key, run in todo.items():
            ckpt = None if key in done else final_checkpoint(run)
            if ckpt is not None:
                flops = flops_of(key[0], runs / "flops.json")
                done[key] = [r | flops | {"n": args.n} for r in evaluate_run(key[0], ckpt, args, ref)]
                print(f"{run.name}: evaluated ({len(done)}/{len(todo)})", flush=True)
        if len(done) < len(todo):
            if not args.wait:
                sys.exit(f"unfinished runs: {sorted(todo[k].name for k in set(todo) - set(done))}")
            time.sleep(30)
    rows = [r for key in todo for r in done[key]]  # models in TEXT_RUN_DIRS order, then seeds
    write_table(rows, SEED_COLS, args.out, "text_verdict_seeds")
    table = [
        {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in aggregate_seeds(rows)
    ]
    cols = "model K seeds n nfe_latent nfe_token nfe_joint".split()
    cols += "flops_step0 flops_step1 flops_step2 train_flops".split()
    cols += ["data_gen_ppl", "data_entropy"]
    cols += [f"{k}{e}" for k in ("gen_ppl", "entropy", "token_kl", "heldout_bits") for e in ("", "_se")]
    write_table(table, cols, args.out, "text_verdict")
    print(f"wrote {len(rows)} rows and {len(table)} aggregated rows to {args.out}")


if __name__ == "__main__":
    main()
