"""Sampling speed of the toy presets on this machine.

Prints, for the toy-2D masked model (oracle denoiser and a learned `toy2d-mdlm` network), the wall time of the
K-step ancestral sampler per step and per sample, measured side by side in one run.

    .venv/bin/python bench/toy_sampling.py [--n 10000] [--repeats 3]
"""

import argparse, time
import torch
from ladd_nb.core import make_generator
from ladd_nb.masked import MaskedProcess, TableDenoiser, sample_masked
from ladd_nb.toy2d import Toy2DConfig, density_table, train_toy2d


def best_time(fn, repeats):
    "Smallest wall time of `repeats` calls (the least disturbed by other work on a noisy machine)."
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="samples per run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", default="1,4,16,64")
    ap.add_argument(
        "--train-steps",
        type=int,
        default=300,
        help="training steps of the learned network (speed does not depend on it)",
    )
    a = ap.parse_args()
    V = 32
    P = density_table("checkerboard", V)
    proc = MaskedProcess(V)
    dens = {
        "oracle (table)": TableDenoiser(P, proc),
        "learned toy2d-mdlm": train_toy2d(Toy2DConfig(V=V, train_steps=a.train_steps)),
    }
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, n={a.n} samples of 2 tokens, best "
        f"of {a.repeats}"
    )
    print(f"{'denoiser':<20} {'K':>4} {'NFE':>4} {'total s':>9} {'ms/step':>9} {'us/sample':>10}")
    for K in map(int, a.steps.split(",")):
        for name, den in dens.items():
            with torch.no_grad():
                s = best_time(
                    lambda: sample_masked(den, proc, a.n, 2, K, generator=make_generator(0)), a.repeats
                )
            print(f"{name:<20} {K:>4} {K + 1:>4} {s:>9.3f} {1e3 * s / (K + 1):>9.2f} {1e6 * s / a.n:>10.2f}")


if __name__ == "__main__":
    main()
