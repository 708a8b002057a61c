"""Training-step speed of MDLM, Co-LADD and Di-LADD at equal token-stream size, side by side (CPU by default).

One run per DiT size times, round-robin (each round runs every variant once, starting one further along the
list each round, so machine noise hits all alike), the training step (forward, backward, and the AdamW step
of the trainer's `make_optimizer`, which updates the parameters that get a gradient) of:
MDLM (token DiT); Co-LADD stage 2 of the sequential schedule (frozen DiT encoder, joint DiT, latent DiT) and
of the joint schedule (frozen DiT encoder, joint DiT); Di-LADD stage 2 (frozen DiT encoder and codebook,
joint DiT over [tokens; code slots]) and, for reference, Di-LADD stage 1 (encoder, EMA codebook and decoder
trained); and MDLM with dropout 0.1 as the library did it until now (attention probabilities dropped inside
SDPA too) against dropout 0.1 on the residual branches only (attention output projection and MLP output, as
MDLM), through the DiT's `attn_dropout` option. Each row: median and interquartile range (IQR) of the step
in ms, and the median (and IQR) of the round-by-round ratios to the MDLM step (dropout 0) of the same DiT
size; MDLM's DiT and the joint DiT's token stream have the same width, depth and heads, and so do the LADD
encoders unless `--encoder-size` says otherwise.

In the same rounds, each kind of network call is timed on its own (no cost is inferred by subtracting
totals): the token DiT forward+backward (MDLM), the frozen encoder forward, the joint DiT forward+backward,
the latent DiT forward+backward (sequential Co-LADD), the frozen VQ forward (Di-LADD) and the AdamW step of
each model. Each is printed as a share of its variant's median step; the last line of each variant is what
the timed calls leave over (step median minus the sum of their medians: noise draws, losses, zero_grad, and
the timing noise).

    OMP_NUM_THREADS=1 .venv/bin/python bench/train_speed.py [--sizes tiny,xs] [--batch 16] [--length 128]
        [--slots 4] [--dim 32] [--codes 512] [--repeats 31] [--warmup 3] [--threads 1] [--encoder-size tiny]
"""

import argparse, copy, types
import torch
from timing import interleaved_times, quartiles, paired_ratios
from ladd_nb.core import make_generator
from ladd_nb.masked import MDLM, token_losses
from ladd_nb.dit import DiT, JointDiT, LatentDiT, attention, get_size
from ladd_nb.coladd import CoLADD, DiTEncoder
from ladd_nb.vq import VectorQuantizer
from ladd_nb.diladd import DiLADD
from ladd_nb.train import TrainConfig, make_optimizer


def trainable(model):
    "The parameters that get a gradient (frozen ones excluded)."
    return [p for p in model.parameters() if p.requires_grad]


def optimizer(model):
    """AdamW as the trainer builds it (`make_optimizer`): it holds every parameter and steps those with a
    gradient, so frozen weights (whose gradients stay None) cost nothing. Learning rate 1e-3 from the first
    step (the text presets' rate after warm-up): at a tiny rate the adaLN-Zero gates stay near zero and the
    stage-1 encoder's gradients become subnormal floats, which a CPU processes several times slower."""
    opt, sched = make_optimizer(model, TrainConfig(lr=1e-3, warmup_steps=0))
    opt.lr_schedule = sched  # keep the schedule alive: it wraps `opt.step` through a weak reference
    return opt


def step_fn(model, batch, g):
    "One training step of `model.loss` on `batch`: forward, zero_grad, backward, AdamW step."
    opt = optimizer(model)

    def step():
        out = model.loss(batch, generator=g)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()

    return step


def adamw_fn(model, batch, g, fused=None):
    """The AdamW step alone, on a copy of `model` whose gradients come from one backward of its loss; `fused`
    set: the trainer's optimiser with that kernel choice instead of its own."""
    m = copy.deepcopy(model)
    opt = optimizer(m)
    if fused is not None:
        d = opt.defaults
        opt = torch.optim.AdamW(
            m.parameters(), lr=d["lr"], betas=d["betas"], weight_decay=d["weight_decay"], fused=fused
        )
    m.loss(batch, generator=g)["loss"].backward()
    return lambda: opt.step()  # a closure keeps `opt` alive (its wrapped `step` holds it weakly)


def fwd_bwd_fn(net, run):
    "Forward + backward of `net`: `run()` returns the loss; `net`'s gradients are cleared first (as a step)."

    def call():
        net.zero_grad(set_to_none=True)
        run().backward()

    return call


def no_grad_fn(f):
    "`f()` with autograd off (as the frozen parts run in stage 2)."

    def call():
        with torch.no_grad():
            f()

    return call


def dropout_dit(V, size, attn: bool):
    "DiT with dropout 0.1 on the residual branches, and on the attention probabilities too if `attn`."
    return DiT(V, size, dropout=0.1, attn_dropout=0.1 if attn else 0.0)


def build(a, size):
    "{name: model} of one DiT size (LADD in stage 2 unless named so); encoders of `a.encoder_size` if set."
    V, L, S, d, C = a.vocab, a.length, a.slots, a.dim, a.codes
    enc = a.encoder_size or size
    co = lambda s: CoLADD(
        DiTEncoder(V, S, d, enc),
        JointDiT(V, S, latent_dim=d, size=size),
        LatentDiT(S, d, size) if s == "sequential" else None,
        V,
        L,
        S,
        d,
        schedule=s,
        stage1_steps=1,
    )
    di = lambda stage1_steps: DiLADD(
        DiTEncoder(V, S, d, enc, normalize=True),
        VectorQuantizer(C, d, cosine=True),
        JointDiT(V, S, latent_dim=d, n_codes=C, size=size),
        V,
        L,
        S,
        stage1_steps=stage1_steps,
    )
    att, res = dropout_dit(V, size, True), dropout_dit(V, size, False)
    models = {
        "MDLM": MDLM(DiT(V, size), V, L),
        "Co-LADD sequential": co("sequential"),
        "Co-LADD joint": co("joint"),
        "Di-LADD": di(1),
        "Di-LADD stage 1": di(10**9),  # stays in stage 1: encoder, codebook (EMA) and decoder trained
        "MDLM drop 0.1, attn probs too": MDLM(att, V, L),
        "MDLM drop 0.1, residual only": MDLM(res, V, L),
    }
    for m in models.values():
        if hasattr(m, "set_step"):
            m.set_step(1)  # stage 2 (encoder and codebook frozen), except where stage1_steps is larger
    return models


def mdlm_parts(m, x0, xt, t, g):
    "{call: callable} of an MDLM step: the token DiT forward+backward."
    return {
        "token DiT fwd+bwd": fwd_bwd_fn(
            m.net, lambda: token_losses(m.net(xt, t), x0, xt, t, m.process)[1].mean()
        )
    }


def coladd_parts(m, x0, xt, t, g):
    "{call: callable} of a Co-LADD stage-2 step: frozen encoder, joint DiT fwd+bwd, latent DiT fwd+bwd."
    with torch.no_grad():
        y0 = m.encoder(x0)
    B, t_y = len(x0), torch.rand(len(x0), generator=g)
    y_t = y0 + torch.randn(y0.shape, generator=g)
    ce = lambda logits: token_losses(logits, x0, xt, t, m.process)[1].mean()
    parts = {"encoder forward (frozen)": no_grad_fn(lambda: m.encoder(x0))}
    if m.schedule == "joint":  # one network, both channels' losses
        lx = lambda: m.token_net(xt, y_t, t, t_y)
        parts["joint DiT fwd+bwd"] = fwd_bwd_fn(m.token_net, lambda: sum_losses(lx(), ce, y0))
        return parts
    parts["joint DiT fwd+bwd"] = fwd_bwd_fn(
        m.token_net, lambda: ce(m.token_net(xt, y0, t, torch.zeros(B))[0])
    )
    parts["latent DiT fwd+bwd"] = fwd_bwd_fn(
        m.latent_net, lambda: (m.latent_net(y_t, t_y) - y0).square().mean()
    )
    return parts


def sum_losses(out, ce, y0):
    "Token CE plus latent MSE of a joint DiT output."
    return ce(out[0]) + (out[1] - y0).square().mean()


def diladd_parts(m, x0, xt, t, g):
    "{call: callable} of a Di-LADD stage-2 step: frozen encoder, frozen VQ forward, joint DiT fwd+bwd."
    with torch.no_grad():
        z_e = m.encoder(x0)
        codes = m.vq(z_e).codes
    t_y = torch.rand(len(x0), generator=g)
    y_t = torch.where(torch.rand(codes.shape, generator=g) < t_y[:, None], m.code_process.mask_id, codes)

    def loss():
        lx, ly = m.denoise(xt, y_t, t, t_y)
        ce_x = token_losses(lx, x0, xt, t, m.process)[1].mean()
        return ce_x + token_losses(ly, codes, y_t, t_y, m.code_process)[1].mean()

    return {
        "encoder forward (frozen)": no_grad_fn(lambda: m.encoder(x0)),
        "VQ forward (frozen)": no_grad_fn(lambda: m.vq(z_e)),
        "joint DiT fwd+bwd": fwd_bwd_fn(m, loss),
    }


PARTS = {
    "MDLM": mdlm_parts,
    "Co-LADD sequential": coladd_parts,
    "Co-LADD joint": coladd_parts,
    "Di-LADD": diladd_parts,
}


def ms(xs):
    "Median and IQR of seconds `xs` as text in ms."
    q1, q2, q3 = quartiles(xs)
    return f"{1e3 * q2:>9.2f} {1e3 * q1:>7.2f}..{1e3 * q3:<7.2f}"


def run_size(a, size):
    "Time and print one DiT size."
    torch.manual_seed(0)
    g = make_generator(0)
    batch = torch.randint(0, a.vocab, (a.batch, a.length), generator=g)
    models = build(a, size)
    t = torch.rand(a.batch, generator=g).clamp(1e-3, 1)
    xt = models["MDLM"].process.q_sample(batch, t, generator=g)
    fns = {("step", k): step_fn(m, batch, g) for k, m in models.items()}
    for k, parts in PARTS.items():
        fns |= {(k, p): f for p, f in parts(models[k], batch, xt, t, g).items()}
        fns[(k, "AdamW step")] = adamw_fn(models[k], batch, g)
    # the per-parameter loop that the fused kernel replaced, for comparison (not part of any step)
    fns[("MDLM", "AdamW step, per-parameter loop")] = adamw_fn(models["MDLM"], batch, g, fused=False)
    ts = interleaved_times(fns, a.repeats, a.warmup)
    c = get_size(size)
    print(
        f"\nsize {size}: DiT {c.dim} wide, {c.depth} blocks, {c.heads} heads; batch {a.batch}, L={a.length}, "
        f"{a.slots} slots x {a.dim} (Co-LADD), {a.codes} codes (Di-LADD); {a.repeats} interleaved rounds; "
        f"LADD encoders of size {a.encoder_size or size}"
    )
    print_steps(ts, models)
    print_parts(ts)


def print_steps(ts, models):
    "The step table: trainable parameters, median and IQR in ms, ratio to MDLM (median and IQR of rounds)."
    print(f"{'training step':<30} {'trainable':>10} {'median ms':>9} {'IQR ms':^16} {'vs MDLM (IQR)':>20}")
    for k, m in models.items():
        r1, r2, r3 = quartiles(paired_ratios(ts[("step", k)], ts[("step", "MDLM")]))
        n = sum(p.numel() for p in trainable(m))
        print(f"{k:<30} {n:>10,} {ms(ts[('step', k)])} {r2:>8.3f}x ({r1:.3f}..{r3:.3f})")


def print_parts(ts):
    "The call table: each call's median and IQR in ms and its share of its variant's median step."
    print(f"{'network call, each timed alone':<48} {'median ms':>9} {'IQR ms':^16} {'% of step':>9}")
    for k in PARTS:
        step = quartiles(ts[("step", k)])[1]
        left = step
        for (v, p), xs in ts.items():
            if v == k:
                med = quartiles(xs)[1]
                extra = p.endswith("per-parameter loop")  # a comparison, not a part of the step
                left -= 0 if extra else med
                share = "(not in step)" if extra else f"{100 * med / step:>8.1f}%"
                print(f"{k + ': ' + p:<48} {ms(xs)} {share:>9}")
        rest = f"{k}: rest (step - sum of its parts)"
        print(f"{rest:<48} {1e3 * left:>9.2f} {'':16} {100 * left / step:>8.1f}%")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="tiny,xs")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=27)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--codes", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=31)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--encoder-size", default=None, help="DiT size of the LADD encoders (default: the same)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    kw = optimizer(torch.nn.Linear(1, 1)).defaults
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; AdamW of make_optimizer "
        f"(foreach={kw['foreach']}, fused={kw['fused']})"
    )
    for size in a.sizes.split(","):
        run_size(a, size)


if __name__ == "__main__":
    main()
