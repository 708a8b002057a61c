"""Di-LADD's sampling network calls against MDLM's at equal backbone size, each call timed on its own (CPU).

One forward pass (inference mode, eval mode) at a mid-sampling state, batch `--batch`, for each network call
the samplers make: an MDLM token step (token DiT); the sequential schedule's code step (the joint DiT with
all-mask tokens at t_x = 1) and token step (the joint DiT given the clean codes at t_y = 0); a joint-schedule
step (tokens and codes both partly masked). The calls run round-robin (machine noise hits them alike); each
row gives the median and interquartile range (IQR) in ms and the median (IQR) of the round-by-round ratios to
the MDLM call.
Whole masked-sampler runs (the skip rules, with an MDLM) are timed by bench/sampling_speed.py, training
steps (stage 1 and 2) by bench/train_speed.py.

    OMP_NUM_THREADS=1 .venv/bin/python bench/diladd_speed.py [--size tiny] [--batch 16] [--length 128]
        [--slots 4] [--codes 512] [--dim 32] [--repeats 31]
"""

import argparse
import torch
from timing import interleaved_times, quartiles, paired_ratios
from ladd_nb.core import make_generator
from ladd_nb.dit import DiT, JointDiT
from ladd_nb.coladd import DiTEncoder
from ladd_nb.vq import VectorQuantizer
from ladd_nb.diladd import DiLADD


def calls(a, g):
    "{name: callable} of one network call of each kind, on half-masked tokens and codes at t = 0.5."
    V, L, S, C, d, n = a.vocab, a.length, a.slots, a.codes, a.dim, a.batch
    enc, vq = DiTEncoder(V, S, d, a.size, normalize=True), VectorQuantizer(C, d, cosine=True)
    model = DiLADD(enc, vq, JointDiT(V, S, latent_dim=d, n_codes=C, size=a.size), V, L, S).eval()
    dit = DiT(V, a.size).eval()
    x0 = torch.randint(0, V, (n, L), generator=g)
    x = torch.where(torch.rand(n, L, generator=g) < 0.5, V, x0)
    codes = torch.randint(0, C, (n, S), generator=g)
    y = torch.where(torch.rand(n, S, generator=g) < 0.5, C, codes)
    t, ones = torch.full((n,), 0.5), torch.ones(n)
    return {
        "MDLM token step": lambda: dit(x, t),
        "Di-LADD sequential code step": lambda: model.denoise(torch.full_like(x, V), y, ones, t),
        "Di-LADD sequential token step": lambda: model.denoise(x, codes, t, torch.zeros(n)),
        "Di-LADD joint step": lambda: model.denoise(x, y, t, t),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=27)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--codes", type=int, default=512)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=31)
    a = ap.parse_args()
    torch.manual_seed(0)
    with torch.inference_mode():
        ts = interleaved_times(calls(a, make_generator(0)), a.repeats, warmup=3)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, size {a.size}, batch {a.batch}, "
        f"L={a.length}, {a.slots} code slots, {a.codes} codes of dim {a.dim}, {a.repeats} interleaved rounds"
    )
    print(f"{'network call (one forward)':<32} {'median ms':>9} {'IQR ms':^15} {'vs MDLM (IQR)':>21}")
    for k, xs in ts.items():
        q1, q2, q3 = quartiles(xs)
        r1, r2, r3 = quartiles(paired_ratios(xs, ts["MDLM token step"]))
        print(f"{k:<32} {1e3 * q2:>9.2f} {1e3 * q1:>6.2f}..{1e3 * q3:<6.2f} {r2:>8.2f}x ({r1:.2f}..{r3:.2f})")


if __name__ == "__main__":
    main()
