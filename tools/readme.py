#!/usr/bin/env python
"""Render the README notebook (`nbs/index.ipynb`) to `README.md` without Quarto.

`nbdev-readme` needs the Quarto binary, which cannot be installed from a package registry. This renderer
covers what the index notebook uses:

- markdown cells verbatim, except cells starting with a `#| hide` line; leading directive lines (e.g. `#|
  export`) and a frontmatter block (`---` ... `---`) at the very top of the first cell are dropped;
- code cells as ```python fences with the nbdev directive lines (`#| ...`) removed; `#| hide` cells are
  skipped, `#| echo: false` hides the source and `#| output: false` the outputs;
- small text outputs (stdout streams and `text/plain` results, at most MAX_LINES lines and MAX_CHARS
  characters) as plain ``` fences; larger, error and rich (image, HTML, widget) outputs are left out;
- relative image paths (`![..](images/x.png)`, `<img src="images/x.png">`) become repo-root relative
  (`nbs/images/x.png`), as do relative links to files that exist next to the notebook.

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # exit 1 if README.md is out of date
"""

import argparse, json, os, posixpath, re, sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES, MAX_CHARS = 30, 3000
_re_dir = re.compile(r'^\s*#\s*\|')  # an nbdev directive line: `#| ...`
_re_ansi = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
_re_md_img = re.compile(r'(!\[[^\]]*\]\()(<?)([^)\s>]+)')  # ![alt](target ...
_re_md_link = re.compile(r'((?<!!)\[[^\]]*\]\()(<?)([^)\s>]+)')  # [text](target ...
_re_html_src = re.compile(r'(<img\b[^>]*?\bsrc=)(["\'])([^"\']+)', re.IGNORECASE)
_re_fence = re.compile(r'^\s{0,3}(`{3,}|~{3,})')


def _cfg(root):
    "`(nbs_path, readme_nb)` from `root/pyproject.toml`, with nbdev's defaults"
    p = root / 'pyproject.toml'
    nb = tomllib.loads(p.read_text(encoding='utf-8')).get('tool', {}).get('nbdev', {}) if p.exists() else {}
    return nb.get('nbs_path', 'nbs'), nb.get('readme_nb', 'index.ipynb')


def _src(cell):
    s = cell.get('source', '')
    return ''.join(s) if isinstance(s, list) else s


def _directives(src):
    "Names and values of the leading `#| name value` lines of a cell, e.g. {'hide': '', 'echo': 'false'}"
    res = {}
    for line in src.splitlines():
        if not line.strip():
            continue
        if not _re_dir.match(line):
            break
        body = _re_dir.sub('', line).strip()
        name, _, val = body.partition(' ')
        res[name.rstrip(':')] = val.strip()
    return res


def _strip_dirs(src):
    "`src` without its leading directive lines"
    lines = src.splitlines(keepends=True)
    while lines and (not lines[0].strip() or _re_dir.match(lines[0])):
        lines.pop(0)
    return ''.join(lines)


def _is_local(target):
    return not re.match(
        r'^([a-zA-Z][a-zA-Z0-9+.-]*:|/|#)', target
    )  # no scheme (http:, data:, attachment:), no /abs, no #anchor


def _rebase(target, prefix):
    "`target`, relative to the notebook folder, made relative to the repo root"
    return posixpath.normpath(posixpath.join(prefix, target)) if prefix else posixpath.normpath(target)


def _fix_paths(md, prefix, nb_dir):
    "Rewrite relative image (and existing-file link) targets in markdown `md`, leaving code alone"

    def img(m):
        return m[1] + m[2] + (_rebase(m[3], prefix) if _is_local(m[3]) else m[3])

    def link(m):
        t = m[3]
        ok = _is_local(t) and (nb_dir / t.split('#')[0]).exists()
        return m[1] + m[2] + (_rebase(t, prefix) if ok else t)

    out, fence = [], None
    for line in md.split('\n'):
        f = _re_fence.match(line)
        if fence:  # inside a fenced code block: copy verbatim
            if f and f[1][0] == fence[0] and len(f[1]) >= len(fence):
                fence = None
        elif f:
            fence = f[1]
        else:
            parts = re.split(r'(`+[^`]*`+)', line)  # odd parts are inline code spans
            for i in range(0, len(parts), 2):
                p = _re_md_img.sub(img, parts[i])
                p = _re_html_src.sub(img, p)
                parts[i] = _re_md_link.sub(link, p)
            line = ''.join(parts)
        out.append(line)
    return '\n'.join(out)


def _strip_frontmatter(md):
    m = re.match(r'\A\s*---[ \t]*\n.*?\n---[ \t]*(\n|\Z)', md, re.DOTALL)
    return md[m.end() :] if m else md


def _fence(text, lang=''):
    ticks = '```'
    while ticks in text:
        ticks += '`'
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _outputs(cell):
    "Small plain-text outputs of a code cell, as fenced blocks"
    res = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream' and o.get('name') == 'stdout':
            txt = o.get('text', '')
        elif o.get('output_type') == 'execute_result':
            txt = o.get('data', {}).get('text/plain', '')
        else:
            continue
        txt = _re_ansi.sub('', ''.join(txt) if isinstance(txt, list) else txt).rstrip()
        if not txt.strip() or len(txt) > MAX_CHARS or txt.count('\n') >= MAX_LINES:
            continue
        res.append(_fence(txt))
    return res


def render(nb_path, root=ROOT):
    "README.md text for the notebook at `nb_path`"
    nb_path, root = Path(nb_path).resolve(), Path(root).resolve()
    prefix = Path(os.path.relpath(nb_path.parent, root)).as_posix()
    prefix = '' if prefix == '.' else prefix
    cells = json.loads(nb_path.read_text(encoding='utf-8')).get('cells', [])
    blocks = [
        f"<!-- generated from {Path(os.path.relpath(nb_path, root)).as_posix()} by tools/readme.py; do not "
        "edit -->"
    ]
    for i, cell in enumerate(cells):
        src = _src(cell)
        dirs = _directives(src)
        if 'hide' in dirs:
            continue
        if cell.get('cell_type') == 'markdown':
            if i == 0:
                src = _strip_frontmatter(src)
            if dirs:
                src = _strip_dirs(src)  # e.g. `#| export` (module docstring text)
            src = _fix_paths(src, prefix, nb_path.parent).strip('\n')
            if src.strip():
                blocks.append(src)
        elif cell.get('cell_type') == 'code':
            code = '\n'.join(l for l in src.splitlines() if not _re_dir.match(l)).strip('\n')
            if code.strip() and dirs.get('echo') != 'false':
                blocks.append(_fence(code, 'python'))
            if dirs.get('output') != 'false':
                blocks += _outputs(cell)
    return '\n\n'.join(blocks) + '\n'


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--check', action='store_true', help='only check that README.md is up to date')
    args = p.parse_args()
    nbs, readme_nb = _cfg(ROOT)
    nb_path, out = ROOT / nbs / readme_nb, ROOT / 'README.md'
    nb_rel = f"{nbs}/{readme_nb}"
    if not nb_path.exists():
        sys.exit(f"{nb_rel} not found")
    txt = render(nb_path)
    if args.check:
        cur = out.read_text(encoding='utf-8') if out.exists() else None
        if cur != txt:
            sys.exit(f"README.md is out of date with {nb_rel}: run python tools/readme.py")
        return print(f"README.md is up to date with {nb_rel}")
    if not out.exists() or out.read_text(encoding='utf-8') != txt:
        out.write_text(txt, encoding='utf-8', newline='\n')
        print(f"wrote README.md from {nb_rel}")
    else:
        print(f"README.md already up to date with {nb_rel}")


if __name__ == '__main__':
    main()
