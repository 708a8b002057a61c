#!/usr/bin/env python
"""Check that the notebooks' stored outputs and the README show a reader nothing of the machine that made
them.

A stored output is what a reader of the book sees without running anything, so it must not carry:

- an absolute path of the machine: anything under a home folder (`/home/...`, `/root/...`, `/Users/...`, `~`),
  the temporary folder (`/tmp`, `/var/folders`, `tempfile.gettempdir()`), the checkout's parent folder, a
  virtual environment or an installed package (`sys.prefix`, `site-packages`, `/.venv/`);
- a progress bar: carriage returns, `tqdm` residue (`45%|####  | 9/20 [00:01<00:02, 6.1it/s]`) or the text
  form of a progress widget (`FloatProgress`);
- a warning (`UserWarning: ...`, `warnings.warn(...)`) or a stored error (a traceback);
- a bare object repr (`<ladd_nb.train.Trainer object at 0x7f...>`), which changes with every run and says
  nothing.

Every text in every output is checked (streams, `text/plain`, `text/html`, `text/markdown`, tracebacks), and
the whole of `README.md`. Images are not text and are skipped.

    python tools/check_outputs.py            # exit 1 and name every offending cell and line
    python tools/check_outputs.py nbs/02_masked.ipynb ...
"""

import argparse, json, os, re, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT_MIMES = ('text/plain', 'text/html', 'text/markdown', 'text/latex', 'application/json')


def _machine_paths():
    """Literal absolute folders of this machine that must never appear: home, temporary folder, checkout
    parent, env"""
    dirs = {Path.home(), Path(tempfile.gettempdir()), ROOT.parent, Path(sys.prefix), Path(sys.base_prefix)}
    if os.environ.get('VIRTUAL_ENV'):
        dirs.add(Path(os.environ['VIRTUAL_ENV']))
    # '/' itself (a home of root on some systems) would match everything
    return sorted({str(d.resolve()) for d in dirs if len(d.resolve().parts) > 1}, key=len, reverse=True)


# Absolute-path shapes that are machine-specific on any machine, not only this one.
_GENERIC_PATHS = [
    r'(?<![\w.:/-])/(?:home|Users|root)/[^\s\'"<>]*',  # home folders (Linux, macOS, root's home)
    r'(?<![\w.:/-])/(?:tmp|var/tmp|var/folders|private/var)/[^\s\'"<>]*',  # temporary folders
    r'[A-Za-z]:\\(?:Users|Temp)\\[^\s\'"<>]*',  # Windows home and temp
    r'[^\s\'"<>(]*site-packages[^\s\'"<>)]*',  # an installed package, hence an environment
    r'(?<![\w.:/-])/[^\s\'"<>]*/\.?venv/[^\s\'"<>]*',  # a virtual environment
    r'(?<![\w])~/[^\s\'"<>]*',  # a home folder, abbreviated
]


def _path_patterns():
    lits = [re.escape(p) + r'(?=[/\s\'"<>)]|$)' for p in _machine_paths()]
    return [('absolute path of the machine', re.compile(p)) for p in _GENERIC_PATHS + lits]


_OTHER = [
    ('progress bar', re.compile(r'\r(?!\n)')),
    ('progress bar', re.compile(r'\d+%\|')),
    ('progress bar', re.compile(r'\[\d+:\d+(?::\d+)?<[\d:?]+,?\s*[\d.?]*\s*(?:it/s|s/it)')),
    ('progress bar', re.compile(r'\b(?:Float|Int)Progress\(')),
    ('warning', re.compile(r'\b[A-Z]\w*Warning\b\s*:')),
    ('warning', re.compile(r'\bwarnings\.warn\(')),
    ('bare object repr', re.compile(r'<[\w.]+ object at 0x[0-9a-fA-F]+>')),
    ('bare object repr', re.compile(r"<class '__main__\.\w+'>")),
]


def problems_in_text(text: str):
    "`(kind, excerpt)` for every forbidden thing in `text`"
    res = []
    for kind, rx in _path_patterns() + _OTHER:
        for m in rx.finditer(text):
            line = text[text.rfind('\n', 0, m.start()) + 1 :].split('\n', 1)[0]
            res.append((kind, line.strip()[:160] or repr(m.group(0))))
    return list(dict.fromkeys(res))  # one report per kind and line, however many patterns matched it


def _texts(output):
    "The texts a reader sees in one stored output"
    kind = output.get('output_type')
    if kind == 'stream':
        yield f"stream {output.get('name')}", _join(output.get('text', ''))
    elif kind == 'error':
        yield (
            'error',
            f"stored error {output.get('ename')}: {output.get('evalue')}\n"
            + '\n'.join(output.get('traceback', [])),
        )
    else:
        for mime, val in output.get('data', {}).items():
            if mime in TEXT_MIMES or mime.startswith('text/'):
                yield mime, val if isinstance(val, str) and mime == 'application/json' else _join(val)


def _join(v):
    return ''.join(v) if isinstance(v, list) else (v if isinstance(v, str) else json.dumps(v))


def check_notebook(path: Path):
    "Lines naming every problem in the stored outputs of notebook `path`"
    nb = json.loads(path.read_text(encoding='utf-8'))
    res = []
    for i, cell in enumerate(nb.get('cells', [])):
        for out in cell.get('outputs', []):
            if out.get('output_type') == 'error':
                res.append(
                    f"{_rel(path)} cell {i}: stored error output ({out.get('ename')}); re-run or clear it"
                )
            for where, text in _texts(out):
                for kind, line in problems_in_text(text):
                    res.append(f"{_rel(path)} cell {i} ({where}): {kind}: {line}")
    return res


def check_file(path: Path):
    "Lines naming every problem in a text file (the README)"
    res = []
    for n, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        res += [f"{_rel(path)} line {n}: {kind}: {ex}" for kind, ex in problems_in_text(line)]
    return res


def _rel(p):
    try:
        return Path(p).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(p)


def check(paths=None):
    "All problems in `paths` (default: every notebook under nbs/ and README.md)"
    if not paths:
        paths = sorted((ROOT / 'nbs').rglob('*.ipynb')) + [ROOT / 'README.md']
    res = []
    for p in map(Path, paths):
        if '.ipynb_checkpoints' in p.parts:
            continue
        res += check_notebook(p) if p.suffix == '.ipynb' else check_file(p)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        'paths', nargs='*', help='notebooks or text files (default: nbs/**/*.ipynb and README.md)'
    )
    res = check(ap.parse_args().paths)
    if not res:
        return print("stored outputs clean: no machine paths, progress bars, warnings or bare reprs")
    print(f"{len(res)} problem(s) in stored outputs:", *res, sep='\n  ')
    print(
        "Write results to paths relative to the working folder, fix warnings at their cause, "
        "disable progress bars in stored cells, then re-run the notebook."
    )
    sys.exit(1)


if __name__ == '__main__':
    main()
