#!/usr/bin/env python
"""Check that the notebooks are clean and the library is in sync with them, without touching the real tree.

nbdev's own CI contract runs `nbdev-clean` and `nbdev-export` in the checkout and then asks git whether
anything changed, which needs a clean git state to start from. This script instead copies `nbs/`, the library
folder, `pyproject.toml` and `README.md` into a temporary directory, runs `nbdev-clean` and `nbdev-export`
there (the executables next to `sys.executable`, i.e. the pinned ones from the project venv), and compares the
results with the originals:

- `nbs/`: every `*.ipynb` (what `nbdev-clean` rewrites) and `llms.txt` (what `nbdev-export` generates);
- the library: every file except `__pycache__`. Before exporting, the temporary copy's generated modules are
  deleted (every `.py` except the top-level `__init__.py`, which holds the hand-set `__version__`), so a
  module that no notebook produces any more (a renamed notebook, a hand-added file) shows up as "not
  produced";
- `pyproject.toml`, whose `name` / `requires-python` lines `nbdev-export` rewrites.

Exit 0 and print "notebooks clean, library in sync" when nothing differs; otherwise name every changed, new or
missing file and exit 1.
"""

import argparse, filecmp, json, os, shutil, subprocess, sys, tempfile, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IGNORE_DIRS = {'__pycache__', '.ipynb_checkpoints'}
# Library files written by hand rather than by `nbdev-export` (paths relative to the library folder).
HANDWRITTEN = set()


def _cfg(root):
    "`(nbs_path, lib_path)` names from `root/pyproject.toml`, with nbdev's defaults"
    d = tomllib.loads((root / 'pyproject.toml').read_text(encoding='utf-8'))
    nb = d.get('tool', {}).get('nbdev', {})
    lib = nb.get('lib_path') or d.get('project', {}).get('name', '').replace('-', '_')
    return nb.get('nbs_path', 'nbs'), lib


def _walk(base, keep=lambda p: True):
    "Relative posix paths of the files under `base` for which `keep(rel_path)` holds, skipping caches"
    if not base.exists():
        return set()
    res = set()
    for dp, dns, fns in os.walk(base):
        dns[:] = [d for d in dns if d not in IGNORE_DIRS]
        for fn in fns:
            rel = (Path(dp) / fn).relative_to(base)
            if keep(rel):
                res.add(rel.as_posix())
    return res


def _nbs_file(rel):
    return rel.suffix == '.ipynb' or rel.as_posix() == 'llms.txt'


def _copy(src, dst):
    if src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*IGNORE_DIRS), symlinks=True)
    elif src.exists():
        shutil.copy2(src, dst)


def _drop_generated(lib):
    "Delete the modules `nbdev-export` (re)writes, so that stale ones are not carried over"
    for p in _walk(lib, lambda r: r.suffix == '.py'):
        rel = Path(p)
        if p in HANDWRITTEN or p == '__init__.py':
            continue
        # sub-package `__init__.py` files are created empty by nbdev; a non-empty one was written by hand
        if rel.name == '__init__.py' and (lib / rel).read_text(encoding='utf-8').strip():
            continue
        (lib / rel).unlink()


def _run(cmd, cwd):
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}  # `nbdev-export` is a no-op under IN_TEST
    r = subprocess.run([str(BIN / cmd)], cwd=cwd, env=env, capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    # nbdev-clean only warns (exit 0) on a notebook it cannot read or process
    if r.returncode or 'Failed to clean notebook' in out:
        bad = [p for p in sorted(_walk(cwd, lambda r: r.suffix == '.ipynb')) if not _is_json(cwd / p)]
        sys.exit(
            f"{cmd} failed in the temporary copy (exit status {r.returncode}):\n{out}"
            + ''.join(f"\n  not valid notebook JSON: {p}" for p in bad)
        )
    return out


def _is_json(p):
    try:
        json.loads(p.read_text(encoding='utf-8'))
        return True
    except ValueError:
        return False


def _compare(orig, new, keep, label):
    "Lines describing the differences between the files under `orig` and `new`"
    a, b = _walk(orig, keep), _walk(new, keep)
    res = [
        f"  changed:      {label}/{p}"
        for p in sorted(a & b)
        if not filecmp.cmp(orig / p, new / p, shallow=False)
    ]
    res += [f"  new:          {label}/{p}  (nbdev-export would create it)" for p in sorted(b - a)]
    res += [
        f"  not produced: {label}/{p}  (no notebook generates it: stale or hand-written)"
        for p in sorted(a - b)
    ]
    return res


def check(root=ROOT):
    "Return the list of differences for the project at `root` (empty when clean and in sync)"
    root = Path(root).resolve()
    nbs, lib = _cfg(root)
    with tempfile.TemporaryDirectory(prefix='check_sync_') as td:
        tmp = Path(td) / root.name
        tmp.mkdir()
        for name in (nbs, lib, 'pyproject.toml', 'README.md'):
            _copy(root / name, tmp / name)
        _drop_generated(tmp / lib)
        _run('nbdev-clean', tmp)
        _run('nbdev-export', tmp)
        diffs = _compare(root / nbs, tmp / nbs, _nbs_file, nbs)
        diffs += _compare(root / lib, tmp / lib, lambda r: True, lib)
        if not filecmp.cmp(root / 'pyproject.toml', tmp / 'pyproject.toml', shallow=False):
            diffs.append(
                "  changed:      pyproject.toml  (nbdev-export rewrites its `name` / `requires-python` lines)"
            )
    return diffs


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    diffs = check()
    if not diffs:
        return print("notebooks clean, library in sync")
    print("Notebooks are not clean or the library is out of sync with them:", *diffs, sep='\n')
    print("Run `nbdev-clean && nbdev-export` (or `make clean-nbs`), check the result, and commit it.")
    sys.exit(1)


if __name__ == '__main__':
    main()
