"Command-line tests: `ladd-nb` as a user runs it (a subprocess), and the preset parser."

import ast, csv, re, subprocess, sys
from pathlib import Path
import pytest
from ladd_nb.cli import main
from ladd_nb.presets import get_config as get_preset

LADD = [str(Path(sys.executable).parent / "ladd-nb")]


def run(*args):
    return subprocess.run(LADD + list(args), capture_output=True, text=True, timeout=600)


def test_presets_lists_toy2d():
    r = run("presets")
    assert r.returncode == 0, r.stderr
    assert "toy2d-mdlm" in r.stdout and "2D density" in r.stdout


def test_demo_quick_writes_results(tmp_path):
    out = tmp_path / "demo"
    r = run("demo", "--quick", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert re.search(r"toy2d densities: 100%.* 2/2 \[", r.stderr), r.stderr  # progress, into a pipe
    assert str(out.resolve()) in r.stdout  # the folder is printed
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert {r["model"] for r in rows} == {"oracle MDLM", "learned MDLM"}
    assert len(rows) == 2 * 2 * 3  # 2 densities x 2 models x K in (1, 2, 4)
    for r_ in rows:
        assert 1 <= int(r_["nfe"]) <= int(r_["K"]) + 1  # time-free networks skip calls that change nothing
        assert 0 <= float(r_["tv"]) <= 1 and float(r_["kl"]) >= 0
    # the oracle's error falls with K, as the closed form says (rho_K ~ 1/K)
    kl = {(r_["density"], r_["model"], int(r_["K"])): float(r_["kl"]) for r_ in rows}
    assert kl[("ring", "oracle MDLM", 1)] > kl[("ring", "oracle MDLM", 2)] > kl[("ring", "oracle MDLM", 4)]
    for f in ("results.md", "kl_vs_steps.png", "densities.png", "fewstep.png"):
        assert (out / f).stat().st_size > 0


def test_unknown_command_is_refused():
    r = run("trian")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_preset_overrides_are_checked():
    assert get_preset("toy2d-mdlm", ["V=8", "density=ring"]).V == 8
    with pytest.raises(ValueError, match="valid keys"):
        get_preset("toy2d-mdlm", ["vocab=8"])
    with pytest.raises(TypeError, match="train_steps must be int"):
        get_preset("toy2d-mdlm", ["train_steps=1.5"])
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("nope")
    with pytest.raises(ValueError, match="key=value"):
        get_preset("toy2d-mdlm", ["V"])


def test_main_presets_in_process(capsys):
    assert main(["presets"]) == 0
    assert "toy2d-mdlm" in capsys.readouterr().out


def test_sample_latent_options_only_for_ladd(tmp_path):
    "`--latent-steps` / `--schedule` reach LADD models and are refused, with a message, for MDLM."
    import ladd_nb

    ck = Path(ladd_nb.__file__).parent / "checkpoints"
    r = run(
        "sample",
        str(ck / "toy2d-mdlm-checkerboard"),
        "--steps",
        "2",
        "--latent-steps",
        "3",
        "--out",
        str(tmp_path / "s.txt"),
    )
    assert r.returncode == 2 and "has no --latent-steps option" in r.stderr
    r = run(
        "sample",
        str(ck / "toy2d-diladd-checkerboard"),
        "--steps",
        "2",
        "--latent-steps",
        "3",
        "--schedule",
        "sequential",
        "--n",
        "5",
        "--out",
        str(tmp_path / "s.txt"),
    )
    assert r.returncode == 0, r.stderr
    # 3 code calls + the noise-removal call; the token phase (time-free given the codes) may skip calls
    nfe, evals = re.search(r"NFE (\{.*?\}), sequence evaluations (\{.*?\})", r.stdout).groups()
    nfe, evals = ast.literal_eval(nfe), ast.literal_eval(evals)
    assert nfe["latent"] == 4 and 1 <= nfe["token"] <= 3, r.stdout
    assert evals["latent"] == 5 * 4 and nfe["token"] <= evals["token"] <= 5 * nfe["token"], r.stdout
    assert len((tmp_path / "s.txt").read_text().splitlines()) == 5


def test_binsaw_study_writes_table_and_figure(tmp_path):
    """The binsaw part of `make demo`: every shipped binsaw checkpoint evaluated, the table and the figure
    written."""
    import matplotlib

    matplotlib.use("Agg")
    from ladd_nb.studies import binsaw_study

    rows = binsaw_study(steps=(1, 2), out=tmp_path, n=100, log=lambda s: None)
    models = {r["model"] for r in rows}
    assert {
        "perfect MDLM",
        "MDLM",
        "Co-LADD sequential",
        "Co-LADD joint",
        "Di-LADD sequential",
        "Di-LADD joint",
    } <= models
    assert len(rows) == 2 * len(models)
    for f in ("binsaw_results.csv", "binsaw_results.md", "binsaw_study.png"):
        assert (tmp_path / f).stat().st_size > 0


def test_words_study_writes_table_and_figure(tmp_path):
    """The words part of `make demo`: the bound, the floor and every shipped words checkpoint evaluated, the
    table and the figure written."""
    import matplotlib

    matplotlib.use("Agg")
    from ladd_nb.studies import words_study

    rows = words_study(out=tmp_path, steps=(1, 2), n=100, log=lambda s: None)
    models = {r["model"] for r in rows}
    assert {
        "perfect MDLM",
        "oracle LADD",
        "MDLM",
        "Co-LADD sequential",
        "Co-LADD joint",
        "Di-LADD sequential",
        "Di-LADD joint",
    } == models
    assert len(rows) == 2 * len(models)
    assert all(r["invalid_rate"] == 0 for r in rows if r["model"] == "oracle LADD")  # the floor: only words
    for f in ("words_results.csv", "words_results.md", "words_study.png"):
        assert (tmp_path / f).stat().st_size > 0


def test_sample_takes_the_presets_settings_and_matches_the_book(tmp_path):
    """`ladd-nb sample` on the binsaw Co-LADD sequential checkpoint with only `--steps 1` samples with the
    preset's evaluation settings, prints them, stores them, and scores as the book's K = 1 row (chapter 8's
    study, the same library call at its seed) within 3 standard errors of the two numbers combined; the CLI at
    another seed; both scored by the exact binsaw likelihood."""
    import math
    import torch
    from ladd_nb.binsaw import BinsawLaw, binsaw_eval, binsaw_scores
    from ladd_nb.core import make_generator
    from ladd_nb.presets import model_from_checkpoint, shipped_checkpoint

    ck, out = shipped_checkpoint("binsaw-coladd-sequential"), tmp_path / "s.pt"
    r = run("sample", str(ck), "--steps", "1", "--n", "1000", "--seed", "12345", "--out", str(out))
    assert r.returncode == 0, r.stderr
    model, c, _ = model_from_checkpoint(ck)
    assert f"latent_steps={c.eval_latent_steps} (preset)" in r.stdout, r.stdout
    assert "schedule=sequential (preset)" in r.stdout, r.stdout
    drawn = torch.load(out)
    assert drawn["sampling"]["latent_steps"] == (c.eval_latent_steps, "preset")
    law = BinsawLaw(c.length)
    H = law.entropy_bits(20_000, make_generator(0))  # as `binsaw_study` at seed 0
    book = binsaw_eval(model, c, [1], n=1_000, oracle=False, H=H, seed=0)[0]  # its rows' call (chapter 8)
    cli = binsaw_scores(drawn["samples"], law, H)
    se = math.hypot(book["se_bits"], cli["se_bits"])
    assert abs(cli["nll_gap_bits"] - book["nll_gap_bits"]) < 3 * se, (cli, book)


def test_sweep_flushes_its_lines_and_shows_progress_into_pipes(tmp_path):
    """Output to pipes, not a terminal: `ladd-nb sweep` prints its sampling settings (stdout) and a progress
    bar (stderr) as it goes. Killed as soon as both have arrived, it has not finished: had either stream been
    held in a buffer until exit, the results would already be written."""
    import signal
    from ladd_nb.presets import shipped_checkpoint

    out = tmp_path / "sweep"
    cmd = LADD + ["sweep", str(shipped_checkpoint("binsaw-coladd-sequential")), "--steps", "1,2,4,8"]
    p = subprocess.Popen(cmd + ["--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()  # returns at the first line, or at exit
        bar = p.stderr.readline()
        while bar and not re.search(r"\d+/\d+ \[", bar):  # skip any other line (a warning)
            bar = p.stderr.readline()
    finally:
        p.kill()
    assert p.wait() == -signal.SIGKILL and not (out / "results.csv").exists(), "the sweep ended first"
    assert first.startswith("sampling settings: sequential: latent_steps=32 (preset)"), first
    assert re.search(r"\d+/\d+ \[", bar), bar
