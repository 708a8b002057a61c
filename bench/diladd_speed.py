"""Di-LADD against MDLM at equal backbone size, measured side by side in one run (CPU by default).

Training-step time (forward + backward + AdamW) of MDLM (token DiT) and Di-LADD (DiT encoder + VQ, joint DiT
over [tokens; code slots]) in stage 1 (autoencoder: encoder, quantiser, token decoder) and stage 2 (frozen
encoder and codebook, both channels), and sampling time per network call: an MDLM token step, a Di-LADD
sequential code step and token step (the same joint network, all-mask tokens during the code steps), a Di-LADD
joint step.

    .venv/bin/python bench/diladd_speed.py [--size tiny] [--batch 16] [--length 128] [--slots 4] [--codes 512]
    [--dim 32]
"""

import argparse
import torch
from timing import median_time, train_step_fn
from ladd_nb.core import make_generator
from ladd_nb.masked import MDLM
from ladd_nb.dit import DiT, JointDiT
from ladd_nb.coladd import DiTEncoder
from ladd_nb.vq import VectorQuantizer
from ladd_nb.diladd import DiLADD


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=27)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--codes", type=int, default=512)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    torch.manual_seed(0)
    g = make_generator(0)
    V, L, S, C, d, sz = a.vocab, a.length, a.slots, a.codes, a.dim, a.size
    batch = torch.randint(0, V, (a.batch, L), generator=g)
    mdlm = MDLM(DiT(V, sz), V, L)
    di = DiLADD(
        DiTEncoder(V, S, d, sz, normalize=True),
        VectorQuantizer(C, d, cosine=True),
        JointDiT(V, S, latent_dim=d, n_codes=C, size=sz),
        V,
        L,
        S,
        stage1_steps=1,
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, size {sz}, batch {a.batch}, L={L}, "
        f"{S} code slots, {C} codes of dim {d}, median of {a.repeats}"
    )
    base = median_time(train_step_fn(mdlm, batch, g), a.repeats)
    print(f"{'training step':<34} {'ms':>8} {'vs MDLM':>8}")
    print(f"{'MDLM':<34} {1e3 * base:>8.1f} {1.0:>7.2f}x")
    for stage in (1, 2):
        di.set_step(stage - 1)
        t = median_time(train_step_fn(di, batch, g), a.repeats)
        print(f"{f'Di-LADD stage {stage}':<34} {1e3 * t:>8.1f} {t / base:>7.2f}x")
    n, K = a.batch, 8
    with torch.no_grad():
        t_m = median_time(lambda: mdlm.sample(n, steps=K, generator=g), a.repeats) / (K + 1)
        t_lat = median_time(lambda: di.sample(n, 1, K, "sequential", generator=g), a.repeats)
        t_seq = median_time(lambda: di.sample(n, K, 1, "sequential", generator=g), a.repeats)
        t_j = median_time(lambda: di.sample(n, K, schedule="joint", generator=g), a.repeats) / (K + 1)
    # (latent_steps=K, steps=1) costs (K+1) code calls + 2 token calls, (1, K) costs 2 code calls +
    # (K+1) token calls.
    det = (K + 1) ** 2 - 4
    per_lat, per_tok = ((K + 1) * t_lat - 2 * t_seq) / det, ((K + 1) * t_seq - 2 * t_lat) / det
    print(f"{'sampling, per network call':<34} {'ms':>8} {'vs MDLM':>8}")
    print(f"{'MDLM token step':<34} {1e3 * t_m:>8.2f} {1.0:>7.2f}x")
    print(f"{'Di-LADD sequential token step':<34} {1e3 * per_tok:>8.2f} {per_tok / t_m:>7.2f}x")
    print(f"{'Di-LADD sequential code step':<34} {1e3 * per_lat:>8.2f} {per_lat / t_m:>7.2f}x")
    print(f"{'Di-LADD joint step':<34} {1e3 * t_j:>8.2f} {t_j / t_m:>7.2f}x")


if __name__ == "__main__":
    main()
