#!/usr/bin/env python
"""Does storing the shipped weights in half precision move a number the book reports? A paired check.

For every shipped checkpoint, the rows of the book's study that uses it are computed twice with the same
seeds: once from the float32 folders in FULL (default: the shipped ones, `ladd_nb/checkpoints/NAME/`) and once
from the folders in HALF_DIR (the same weights stored in float16 or bfloat16 and loaded back in float32, as
`ladd-nb export --pretrained --dtype float16 FULL/NAME HALF_DIR/NAME` makes them). The studies are the book's:

- toy2d-mdlm-*: the preset's evaluation (exact KL/TV of the K-step law, chapters 3, 5a, 6b, 7b);
- toy2d-coladd-*, toy2d-diladd-*: the rows of the toy study (chapter 7c; laws exact given sampled latents, and
  exact laws);
- binsaw-*: the rows of `binsaw_study` (chapter 8, 1,000 samples a row, held-out bounds);
- words-*: the rows of `words_study` (chapter 8c, 4,000 samples a row);
- text-char-*: `sweep_text_checkpoint` (chapter 10's study; text-char-ar is the reference of every row's gen
  PPL, so its half copy is checked through them).

The toy rows' exact KLs are also compared unrounded (column kl_exact). For every numeric column (timings
excluded) it prints the largest change |half - float32| over the rows and, where there is a standard error,
the largest change in standard errors: the rows' own (NLL gaps, invalid rates, held-out bounds) or, unless
--no-spread, computed here from the float32 model: toy Co-LADD KLs, the standard deviation over four latent
draws (generators 0..3); text gen PPL, entropy and token KL, a bootstrap over the row's samples. Writes the
comparison to OUT. The shipped float32 models of the check were the `.pt` files of the repository's history
before issue 17 (`ladd-nb export NAME.pt FULL/NAME --pretrained` makes a float32 folder of one).

    python tools/check_half_precision.py HALF_DIR [--full FULL] --out half_precision.csv [--only NAME ...]
"""

import argparse, csv, math, os, statistics, sys, tempfile, time
from pathlib import Path

SE_OF = {  # column -> the column holding its standard error
    "nll_gap_bits": "se_bits",
    "heldout_bits": ("heldout_se", "heldout_bits_se"),
    "invalid_rate": "invalid_se",
    "kl_exact": "kl_spread",  # toy Co-LADD: the spread of the estimate over latent draws (generators 0..3)
    "gen_ppl": "gen_ppl_se",  # text: bootstrap over the row's samples
    "entropy": "entropy_se",
    "token_kl": "token_kl_se",
}
TIMING = ("sample_s", "sample_ms_per_call", "sample_us_per_sample", "seconds")


def _rows(name: str, scratch: Path, spread: bool) -> list[dict]:
    """The book's rows for the shipped checkpoint `name` (loaded through `shipped_checkpoint`); with `spread`,
    the standard errors the rows lack (`SE_OF`)."""
    from ladd_nb import studies
    from ladd_nb.presets import model_from_checkpoint, shipped_checkpoint
    from ladd_nb.toy2d import STEP_BUDGETS

    quiet = lambda s: None
    if name.startswith("toy2d-mdlm"):
        model, c, p = model_from_checkpoint(shipped_checkpoint(name))
        return p.evaluate(model, c, STEP_BUDGETS) + _exact_kls(name)
    if name.startswith("toy2d-coladd"):
        return _coladd_rows(name, spread)
    if name.startswith("toy2d-diladd"):
        return studies._diladd_rows((name.split("-")[2],), STEP_BUDGETS, 32, quiet) + _exact_kls(name)
    if name.startswith("binsaw"):
        from ladd_nb.binsaw import BinsawLaw, BINSAW_BUDGETS
        from ladd_nb.core import make_generator

        H = BinsawLaw().entropy_bits(20_000, make_generator(0))
        return studies._binsaw_checkpoint_rows(name, name, BINSAW_BUDGETS, H, 1_000, 0)
    if name.startswith("words"):
        from ladd_nb.words import WORDS_BUDGETS

        return studies._words_checkpoint_rows(name, name, WORDS_BUDGETS, 4_000, 0)
    if name.startswith("text-char") and name != "text-char-ar":
        rows = studies.sweep_text_checkpoint(name, name, studies.TEXT_STEPS, scratch)
        return [r | _text_se(name, r["schedule"], r["K"]) for r in rows] if spread else rows
    return []  # text-char-ar: the reference, checked through the gen PPL of every text row


def _coladd_rows(name: str, spread: bool) -> list[dict]:
    """The toy study's rows of one Co-LADD checkpoint (`studies._coladd_rows` evaluates both schedules of a
    density), then its KLs unrounded; with `spread`, their standard deviation over generators 0..3."""
    from ladd_nb.core import make_generator
    from ladd_nb.masked import sampling_kwargs
    from ladd_nb.presets import coladd_toy_law, model_from_checkpoint, shipped_checkpoint
    from ladd_nb.toy2d import STEP_BUDGETS, density_table, kl_tv, step_budget_rows

    model, c, _ = model_from_checkpoint(shipped_checkpoint(name))
    laws = coladd_toy_law(model, c, list(STEP_BUDGETS), make_generator(0), n=5_000)
    draw = lambda n, K, kw=sampling_kwargs(model, c): model.sample(n, steps=K, **kw)  # as the study draws
    P = density_table(c.density, c.V)
    rows = step_budget_rows(P, laws.get, draw, STEP_BUDGETS)
    exact = [{"K": str(K), "kl_exact": kl_tv(P, law)[0]} for K, law in laws.items()]
    if spread:
        more = [coladd_toy_law(model, c, list(STEP_BUDGETS), make_generator(s), n=5_000) for s in (1, 2, 3)]
        for r, K in zip(exact, STEP_BUDGETS):
            r["kl_spread"] = statistics.stdev([r["kl_exact"]] + [kl_tv(P, m[K])[0] for m in more])
    return rows + exact


def _text_se(name: str, path: str, K: int, boot: int = 400) -> dict:
    """Bootstrap standard errors of a text row's gen PPL, mean entropy and token KL: the row's samples (drawn
    as `text_eval` draws them) resampled `boot` times."""
    import torch
    from ladd_nb.core import make_generator
    from ladd_nb.masked import model_sampler
    from ladd_nb.metrics import token_kl, unigram_entropy
    from ladd_nb.presets import data_of, load_reference, model_from_checkpoint, shipped_checkpoint

    model, c, _ = model_from_checkpoint(shipped_checkpoint(name))
    data, ref = data_of(c), load_reference(c)
    x = model_sampler(model, c, 0)(c.eval_samples, K, path).x.cpu()
    with torch.no_grad():
        nll = ref.nll(x).double()
    nll, ent, V = nll.sum(-1) if nll.ndim == 2 else nll, unigram_entropy(x), data.tokenizer.vocab_size
    g, draws = make_generator(1), []
    for _ in range(boot):
        i = torch.randint(len(x), (len(x),), generator=g)
        ppl = math.exp(float(nll[i].sum()) / x[i].numel())
        draws.append([ppl, float(ent[i].mean()), token_kl(x[i], data.valid, V)])
    sd = torch.tensor(draws).std(0).tolist()
    return dict(gen_ppl_se=sd[0], entropy_se=sd[1], token_kl_se=sd[2])


def _exact_kls(name: str) -> list[dict]:
    "Exact KL(data || model) of a toy MDLM or Di-LADD (both schedules) at each K, unrounded: {K, kl_exact}."
    from ladd_nb.masked import two_token_law
    from ladd_nb.presets import diladd_toy_laws, model_from_checkpoint, shipped_checkpoint
    from ladd_nb.toy2d import STEP_BUDGETS, density_table, kl_tv

    model, c, _ = model_from_checkpoint(shipped_checkpoint(name))
    P = density_table(c.density, c.V)
    if name.startswith("toy2d-mdlm"):
        laws = {K: two_token_law(model, model.process, K) for K in STEP_BUDGETS}
    else:
        laws = diladd_toy_laws(model, list(STEP_BUDGETS), c.eval_latent_steps)
    return [{"K": str(K), "kl_exact": kl_tv(P, law)[0]} for K, law in laws.items()]


def _standard_error(row: dict, col: str):
    "The standard error of `row[col]`, if the row has one."
    keys = SE_OF.get(col, ())
    for k in (keys,) if isinstance(keys, str) else keys:
        if isinstance(row.get(k), (int, float)):
            return row[k]
    return None


def _compare(name: str, full: list[dict], half: list[dict]) -> list[dict]:
    "Per numeric column: the largest change, and the largest change in standard errors where there is one."
    out = {}
    for a, b in zip(full, half, strict=True):
        for col, v in a.items():
            if col in TIMING or col not in b or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue  # timings, and the standard errors only the float32 pass computes
            d = abs(b[col] - v) if not (math.isnan(v) and math.isnan(b[col])) else 0.0
            se = _standard_error(a, col)
            o = out.setdefault(col, dict(checkpoint=name, column=col, rows=0, changed=0, max_abs=0.0))
            o["rows"] += 1
            o["changed"] += d > 0
            o["max_abs"] = max(o["max_abs"], d)
            o["max_rel"] = max(o.get("max_rel", 0.0), d / abs(v) if v else 0.0)
            if se:
                o["max_in_se"] = max(o.get("max_in_se", 0.0), d / se)
    return list(out.values())


def _run(name: str, folders: Path, scratch: Path, spread: bool = False) -> list[dict]:
    "The rows of `name`, its checkpoint read from `folders / name`."
    import ladd_nb.presets as presets
    import ladd_nb.studies as studies
    from ladd_nb.core import seed_everything

    original = presets.shipped_checkpoint
    # the loaders look shipped_checkpoint up in these two modules when they run
    presets.shipped_checkpoint = studies.shipped_checkpoint = lambda n: folders / n
    try:
        seed_everything(0)
        return _rows(name, scratch / folders.name, spread)
    finally:
        presets.shipped_checkpoint = studies.shipped_checkpoint = original


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("half_dir", type=Path, help="folders of the half-precision copies, one per checkpoint")
    ap.add_argument("--full", type=Path, help="folders of the float32 models (default: the shipped ones)")
    ap.add_argument("--out", type=Path, default=Path("half_precision.csv"))
    ap.add_argument("--only", nargs="*", help="checkpoint names (default: every shipped one)")
    ap.add_argument("--no-spread", action="store_true", help="skip the toy Co-LADD and text standard errors")
    args = ap.parse_args(argv)
    import ladd_nb

    root = Path(ladd_nb.__file__).parent / "checkpoints"
    args.full = args.full or root
    names = args.only or sorted(p.name for p in root.iterdir() if (p / "config.json").is_file())
    report = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            t0 = time.perf_counter()
            full = _run(name, args.full.resolve(), Path(scratch), not args.no_spread)
            half = _run(name, args.half_dir.resolve(), Path(scratch))
            for r in _compare(name, full, half):
                report.append(r)
                se = f"{r['max_in_se']:.3f} SE" if "max_in_se" in r else "-"
                print(
                    f"{name:38s} {r['column']:22s} changed {r['changed']:3d}/{r['rows']:<3d} "
                    f"max |d| {r['max_abs']:.3g} (relative {r['max_rel']:.2g})  {se}",
                    flush=True,
                )
            print(f"{name}: {len(full)} rows in {time.perf_counter() - t0:.0f}s", flush=True)
    keys = ["checkpoint", "column", "rows", "changed", "max_abs", "max_rel", "max_in_se"]
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(report)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
