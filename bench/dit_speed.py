"""Forward+backward speed of the DiT backbones on this machine (CPU by default).

For the tiny CPU sizes: time per training step (forward + backward + AdamW) and tokens/s of the token DiT,
and, in the same run and at the same width and depth, the dual-stream joint transformer (tokens + latent
slots) and the latent-only DiT. Ratios are measured side by side, so they are meaningful on a noisy machine.

    .venv/bin/python bench/dit_speed.py [--batch 16] [--length 128] [--slots 16] [--sizes tiny,xxs,xs]
"""

import argparse, time
import torch
from ladd_nb.dit import DiT, JointDiT, LatentDiT, count_params


def step_time(model, make_inputs, loss_of, repeats, warmup=2):
    "Median wall time of forward + backward + optimiser step."
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ts = []
    for i in range(warmup + repeats):
        inp = make_inputs()
        t0 = time.perf_counter()
        loss = loss_of(model(*inp))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= warmup:
            ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--latent-dim", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=27)
    ap.add_argument("--sizes", default="tiny,xxs,xs")
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    torch.manual_seed(0)
    B, L, S, d, V = a.batch, a.length, a.slots, a.latent_dim, a.vocab
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {B}, length {L}, {S} latent "
        f"slots of dim {d}, median of {a.repeats}"
    )
    print(
        "tokens/s counts the L tokens of each sequence; positions/s counts every position the network "
        "attends over"
    )
    print(
        f"{'size':<5} {'network':<18} {'params':>9} {'ms/step':>9} {'tokens/s':>10} {'positions/s':>12} "
        f"{'vs token DiT':>13}"
    )
    x = lambda: torch.randint(0, V + 1, (B, L))
    t = lambda: torch.rand(B)
    for size in a.sizes.split(","):
        nets = {
            "token DiT": (DiT(V, size), lambda: (x(), t()), lambda o: o.float().square().mean(), L),
            "joint Co-LADD": (
                JointDiT(V, S, latent_dim=d, size=size),
                lambda: (x(), torch.randn(B, S, d), t(), t()),
                lambda o: o[0].square().mean() + o[1].square().mean(),
                L + S,
            ),
            "joint Di-LADD": (
                JointDiT(V, S, n_codes=64, size=size),
                lambda: (x(), torch.randint(0, 65, (B, S)), t(), t()),
                lambda o: o[0].square().mean() + o[1].square().mean(),
                L + S,
            ),
            "latent DiT": (
                LatentDiT(S, d, size=size),
                lambda: (torch.randn(B, S, d), t()),
                lambda o: o.square().mean(),
                S,
            ),
        }
        base = None
        for name, (net, inp, lf, n_pos) in nets.items():
            s = step_time(net, inp, lf, a.repeats)
            base = base or s
            tok = "-" if name == "latent DiT" else f"{B * L / s:.0f}"  # the latent DiT sees no tokens
            print(
                f"{size:<5} {name:<18} {count_params(net) / 1e6:>8.3f}M {1e3 * s:>9.2f} {tok:>10} "
                f"{B * n_pos / s:>12.0f} {s / base:>12.2f}x"
            )


if __name__ == "__main__":
    main()
