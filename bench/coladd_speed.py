"""Co-LADD's sampling network calls against MDLM's at equal backbone size, each call timed on its own (CPU).

One forward pass (inference mode, eval mode) at a mid-sampling state, batch `--batch`, for each network call
the samplers make: an MDLM token step (token DiT); the sequential schedule's latent step (latent DiT) and
token step (joint DiT given the clean latent); a joint-schedule step (joint DiT, noisy latent). The calls run
round-robin (machine noise hits them alike); each row gives the median and interquartile range (IQR) in ms
and the median (IQR) of the round-by-round ratios to the MDLM call. Whole masked-sampler runs (the skip
rules, with an MDLM) are timed by bench/sampling_speed.py, training steps by bench/train_speed.py.

    OMP_NUM_THREADS=1 .venv/bin/python bench/coladd_speed.py [--size tiny] [--batch 16] [--length 128]
        [--slots 4] [--dim 32] [--repeats 31]
"""

import argparse
import torch
from timing import interleaved_times, quartiles, paired_ratios
from ladd_nb.core import make_generator
from ladd_nb.dit import DiT, JointDiT, LatentDiT
from ladd_nb.coladd import CoLADD, DiTEncoder


def calls(a, g):
    "{name: callable} of one network call of each kind, on a half-masked batch at t = 0.5."
    V, L, S, d, n = a.vocab, a.length, a.slots, a.dim, a.batch
    enc, joint, lat = (
        DiTEncoder(V, S, d, a.size),
        JointDiT(V, S, latent_dim=d, size=a.size),
        LatentDiT(S, d, a.size),
    )
    model = CoLADD(enc, joint, lat, V, L, S, d, schedule="sequential").eval()
    dit = DiT(V, a.size).eval()
    x0 = torch.randint(0, V, (n, L), generator=g)
    x = torch.where(torch.rand(n, L, generator=g) < 0.5, V, x0)
    y, t = torch.randn(n, S, d, generator=g), torch.full((n,), 0.5)
    return {
        "MDLM token step": lambda: dit(x, t),
        "Co-LADD sequential latent step": lambda: model.to_y0(model.latent_net(y, t), y, t),
        "Co-LADD sequential token step": lambda: model.token_net(x, y, t, torch.zeros(n)),
        "Co-LADD joint step": lambda: model.token_net(x, y, t, t),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=27)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=31)
    a = ap.parse_args()
    torch.manual_seed(0)
    with torch.inference_mode():
        ts = interleaved_times(calls(a, make_generator(0)), a.repeats, warmup=3)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, size {a.size}, batch {a.batch}, "
        f"L={a.length}, {a.slots} slots x {a.dim}, {a.repeats} interleaved rounds"
    )
    print(f"{'network call (one forward)':<32} {'median ms':>9} {'IQR ms':^15} {'vs MDLM (IQR)':>21}")
    for k, xs in ts.items():
        q1, q2, q3 = quartiles(xs)
        r1, r2, r3 = quartiles(paired_ratios(xs, ts["MDLM token step"]))
        print(f"{k:<32} {1e3 * q2:>9.2f} {1e3 * q1:>6.2f}..{1e3 * q3:<6.2f} {r2:>8.2f}x ({r1:.2f}..{r3:.2f})")


if __name__ == "__main__":
    main()
