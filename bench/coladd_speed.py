"""Co-LADD against MDLM at equal backbone size, measured side by side in one run (CPU by default).

Training-step time (forward + backward + AdamW) of MDLM (token DiT) and Co-LADD (DiT encoder, joint DiT,
latent DiT; stage 2 of the sequential schedule and of the joint schedule), and sampling time per step: an MDLM
token step, a Co-LADD sequential latent step and token step, a Co-LADD joint step. The LADD authors report a
training-time ratio of about 1.36x on OpenWebText with a frozen pretrained encoder; here the encoder is a
small frozen DiT.

    .venv/bin/python bench/coladd_speed.py [--size tiny] [--batch 16] [--length 128] [--slots 4] [--dim 32]
"""

import argparse
import torch
from timing import median_time, train_step_fn
from ladd_nb.core import make_generator
from ladd_nb.masked import MDLM
from ladd_nb.dit import DiT, JointDiT, LatentDiT
from ladd_nb.coladd import CoLADD, DiTEncoder


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=27)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    torch.manual_seed(0)
    g = make_generator(0)
    V, L, S, d, sz = a.vocab, a.length, a.slots, a.dim, a.size
    batch = torch.randint(0, V, (a.batch, L), generator=g)
    mdlm = MDLM(DiT(V, sz), V, L)
    co = {
        s: CoLADD(
            DiTEncoder(V, S, d, sz),
            JointDiT(V, S, latent_dim=d, size=sz),
            LatentDiT(S, d, sz) if s == "sequential" else None,
            V,
            L,
            S,
            d,
            schedule=s,
        )
        for s in ("sequential", "joint")
    }
    for m in co.values():
        m.set_step(1)  # stage 2: encoder frozen, both channels trained
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, size {sz}, batch {a.batch}, L={L}, "
        f"{S} slots x {d}, median of {a.repeats}"
    )
    base = median_time(train_step_fn(mdlm, batch, g), a.repeats)
    print(f"{'training step':<34} {'ms':>8} {'vs MDLM':>8}")
    print(f"{'MDLM':<34} {1e3 * base:>8.1f} {1.0:>7.2f}x")
    for s, m in co.items():
        t = median_time(train_step_fn(m, batch, g), a.repeats)
        print(f"{'Co-LADD ' + s + ' (stage 2)':<34} {1e3 * t:>8.1f} {t / base:>7.2f}x")
    n, K = a.batch, 8
    with torch.no_grad():
        t_m = median_time(lambda: mdlm.sample(n, steps=K, generator=g), a.repeats) / (K + 1)
        t_lat = median_time(
            lambda: co["sequential"].sample(n, steps=1, latent_steps=K, generator=g), a.repeats
        )
        t_seq = median_time(
            lambda: co["sequential"].sample(n, steps=K, latent_steps=1, generator=g), a.repeats
        )
        t_j = median_time(lambda: co["joint"].sample(n, steps=K, generator=g), a.repeats) / (K + 1)
    # A sequential run with (latent_steps=K, steps=1) costs (K+1) latent steps + 2 token steps, one with
    # (1, K) costs
    # 2 latent steps + (K+1) token steps: solve the two equations for the time of one latent and one
    # token step.
    det = (K + 1) ** 2 - 4
    per_lat = ((K + 1) * t_lat - 2 * t_seq) / det
    per_tok = ((K + 1) * t_seq - 2 * t_lat) / det
    print(f"{'sampling, per network call':<34} {'ms':>8} {'vs MDLM':>8}")
    print(f"{'MDLM token step':<34} {1e3 * t_m:>8.2f} {1.0:>7.2f}x")
    print(f"{'Co-LADD sequential token step':<34} {1e3 * per_tok:>8.2f} {per_tok / t_m:>7.2f}x")
    print(f"{'Co-LADD sequential latent step':<34} {1e3 * per_lat:>8.2f} {per_lat / t_m:>7.2f}x")
    print(f"{'Co-LADD joint step':<34} {1e3 * t_j:>8.2f} {t_j / t_m:>7.2f}x")


if __name__ == "__main__":
    main()
