"Install smoke tests: the package imports, exports what the notebooks define, and ships its console script."

import importlib, shutil, sys
from pathlib import Path
import ladd_nb
from ladd_nb import _modidx

MODULES = [
    "core",
    "schedules",
    "masked",
    "toy2d",
    "dit",
    "train",
    "coladd",
    "vq",
    "diladd",
    "binsaw",
    "widgets",
    "text",
    "metrics",
    "cli",
]


def test_version_matches_pyproject():
    import tomllib

    cfg = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "version" in cfg["project"]["dynamic"]
    assert ladd_nb.__version__.count(".") == 2


def test_every_module_imports_and_is_indexed():
    indexed = set(_modidx.d["syms"])
    for m in MODULES:
        mod = importlib.import_module(f"ladd_nb.{m}")
        assert f"ladd_nb.{m}" in indexed
        assert mod.__all__, m
        for name in mod.__all__:
            assert hasattr(mod, name), (m, name)


def test_console_script_installed():
    assert (Path(sys.executable).parent / "ladd-nb").exists() or shutil.which("ladd-nb")


def test_each_notebook_exports_its_module():
    """Every numbered notebook that exports code names a module with `#| default_exp`, and that module exists
    in the package (recipe chapters export nothing)."""
    import json, re

    root = Path(__file__).parents[1]
    recipes = {"12_gpu_text.ipynb"}
    for nb in sorted((root / "nbs").glob("[0-9]*.ipynb")):
        src = "\n".join(
            "".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"
        )
        m = re.search(r"#\|\s*default_exp\s+(\S+)", src)
        if nb.name in recipes:
            assert m is None and not re.search(r"#\|\s*export", src), (
                f"{nb.name} is a recipe chapter: it should export nothing"
            )
            continue
        if m is None:  # a chapter that only contributes cells to modules of other chapters names each one
            targets = re.findall(r"#\|\s*export\b(.*)", src)
            assert targets and all(t.strip() for t in targets), f"{nb.name} has no default_exp"
            for t in targets:
                assert (root / "ladd_nb" / (t.strip() + ".py")).exists(), (nb.name, t)
            continue
        assert (root / "ladd_nb" / (m.group(1).replace(".", "/") + ".py")).exists(), nb.name


def test_shipped_checkpoints_load_from_a_bare_import():
    """Every shipped checkpoint rebuilds its model in a fresh process that imported only ladd_nb.presets (one
    with the frozen MiniLM encoder only where the optional `text` extra is installed)."""
    import subprocess

    code = (
        "from ladd_nb.presets import model_from_checkpoint, read_pretrained_config\n"
        "from pathlib import Path\n"
        "import ladd_nb\n"
        "from ladd_nb.coladd import have_minilm\n"
        "ps = sorted((Path(ladd_nb.__file__).parent / 'checkpoints').glob('*/config.json'))\n"
        "ps = [p.parent for p in ps]\n"
        "assert len(ps) >= 6, ps\n"
        "extra = lambda p: read_pretrained_config(p)['config'].get('encoder', '')\n"
        "ps = [p for p in ps if have_minilm() or extra(p) != 'minilm']\n"
        "for p in ps: m, c, pr = model_from_checkpoint(p); assert pr.name in p.name, (p, pr.name)\n"
        "print(len(ps))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) >= 6
