"The project's own checks (tools/): each must catch what it is there to catch, and pass what is clean."

import importlib.util, json, sys, tempfile
from pathlib import Path
import pytest

TOOLS = Path(__file__).parents[1] / "tools"


def load(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


check_outputs = load("check_outputs")
flake_check = load("flake_check")


def notebook(tmp_path, *outputs):
    "A one-cell notebook whose cell has `outputs`; returns its path."
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "c0",
                "metadata": {},
                "outputs": list(outputs),
                "source": "print(1)",
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    p = tmp_path / "nb.ipynb"
    p.write_text(json.dumps(nb))
    return p


def stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def plain(text):
    return {
        "output_type": "execute_result",
        "execution_count": None,
        "metadata": {},
        "data": {"text/plain": text},
    }


BAD = {
    "absolute path of the machine": [
        stream("written to /tmp/tmp3c95_9ki/s.txt\n"),
        stream(f"checkpoints in {tempfile.gettempdir()}/run\n"),
        stream("/home/alice/project/x.py:3: note\n"),
        stream(f"{sys.prefix}/lib/python3.11/site-packages/torch/x.py\n"),
        stream(f"results in {Path(__file__).resolve().parents[2]}/elsewhere\n"),
    ],
    "progress bar": [
        stream("train:  45%|####5     | 9/20 [00:01<00:02, 6.1it/s]", "stderr"),
        stream("step 1\rstep 2\rstep 3"),
        plain("HBox(children=(FloatProgress(value=0.0, max=10.0),))"),
    ],
    "warning": [stream("x.py:590: UserWarning: Detected pickle protocol 4\n", "stderr")],
    "bare object repr": [
        plain("<ladd_nb.train.Trainer object at 0x7f3a2b1c9d30>"),
        plain("Preset(name='a', config=<class '__main__.Toy2DConfig'>)"),
    ],
}


@pytest.mark.parametrize("kind", list(BAD))
def test_check_outputs_catches(kind, tmp_path):
    for out in BAD[kind]:
        found = check_outputs.check([notebook(tmp_path, out)])
        assert any(kind in line for line in found), (kind, out, found)


def test_check_outputs_catches_stored_errors(tmp_path):
    err = {"output_type": "error", "ename": "ValueError", "evalue": "boom", "traceback": ["ValueError: boom"]}
    assert any("stored error" in line for line in check_outputs.check([notebook(tmp_path, err)]))


def test_check_outputs_passes_clean_text(tmp_path):
    clean = [
        stream("5 samples with 4 steps written to run/s.txt\n"),
        plain("(0.791, 0.53)"),
        stream("open https://huggingface.co/datasets/afmck/text8 or .venv/bin/jupyter lab nbs/\n"),
        plain("<Figure size 640x480 with 1 Axes>"),
        plain("{'kl': 0.5, 'ratio': '45%'}"),
    ]
    assert check_outputs.check([notebook(tmp_path, *clean)]) == []


def test_check_outputs_reads_text_files(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("Run `make test`.\nMeasured in /root/work/ladd_nb.\n")
    found = check_outputs.check([readme])
    assert len(found) == 1 and "line 2" in found[0]


def test_the_repository_is_clean():
    assert check_outputs.check() == []


def test_flake_check_plans_one_run_per_notebook_and_seed():
    nbs = flake_check.notebooks(["00_core", "02"])
    assert [p.stem for p in nbs] == ["00_core", "02_masked"]
    runs = flake_check.jobs([3, 5], nbs)
    assert [(name, seed) for name, _, seed in runs] == [
        ("00_core", 3),
        ("02_masked", 3),
        ("pytest", 3),
        ("00_core", 5),
        ("02_masked", 5),
        ("pytest", 5),
    ]
    assert all(cmd[-1].endswith(".ipynb") for name, cmd, _ in runs if name != "pytest")
    table = flake_check.table(
        [("00_core", 3, True, 4.2, ""), ("00_core", 5, False, 9.0, "")], [3, 5], ["00_core"]
    )
    assert table.splitlines()[-1] == "| 00_core | pass 4s | FAIL 9s |"


def test_flake_check_sets_the_seed(monkeypatch):
    monkeypatch.setenv("IN_TEST", "1")
    env = flake_check._env(7)
    assert env["LADD_NB_SEED"] == "7" and "IN_TEST" not in env and env["OMP_NUM_THREADS"] == "1"


def test_import_graph_finds_each_kind_of_problem():
    "A hand-built graph with one problem of each kind: the check names all four, and none on a clean graph"
    ig = load("import_graph")
    clean = {m: {} for layer in ig.LAYERS for m in layer}
    assert ig.find_problems(clean) == []
    bad = dict(clean, core={"schedules": [3]}, schedules={"core": [5]}, extra={})
    del bad["widgets"]
    found = ig.find_problems(bad)
    assert any(p.startswith("cycle: ") and "core" in p and "schedules" in p for p in found), found
    assert any(p.startswith("upward import: core imports schedules (lines 3)") for p in found), found
    assert "module extra is in no layer: add it to LAYERS in tools/import_graph.py" in found
    assert any(p.startswith("LAYERS names widgets, which is no module") for p in found), found
