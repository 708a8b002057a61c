#!/usr/bin/env python
"""How teachable are the chapters? Cell sizes, crowded exported cells, long lines, figures and exercises, per
chapter.

    python tools/book_stats.py            # the table
    python tools/book_stats.py --check    # exit 1 when a target of the book is missed (listed at the end)

Measured on the notebook JSON (sources and stored outputs) and the AST of each exported cell:

- code cells: the number of code cells; median and max lines of a code cell (blank lines and `#|` directives
  not counted, so a cell is as long as what the reader reads);
- multi: the share of exported cells (`#| export`, `#| exports`, `#| export <module>`) that define more than
  one top-level symbol (function, class or assigned name);
- long: code lines over 110 characters;
- figures: stored image outputs (png, svg, jpeg);
- exercises: markdown cells whose first line is a heading that starts with "Exercise".

Targets (`--check`): median cell <= 5 lines, no cell over 40 lines, at most 15 % of exported cells defining
more than one symbol (over the whole book), no line over 110 characters, a figure in every chapter, 12
exercises or more.
"""

import argparse, ast, json, re, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_CELL, MEDIAN_CELL, MULTI_SHARE, MAX_LINE, MIN_EXERCISES = 40, 5, 0.15, 110, 12
EXPORT = re.compile(r"^#\|\s*export(s|i)?(\s|$)")
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")


def chapters():
    "The notebooks of the book, in reading order (files starting with `_` or `.` are not chapters)"
    return sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith(("_", ".")))


def reader_lines(source):
    "The lines a reader reads: no blank lines, no `#|` directives"
    return [l for l in source.split("\n") if l.strip() and not l.startswith("#|")]


def symbols_defined(source):
    "Top-level names a cell defines: functions, classes and assigned names (`__all__` and `_private = ...`"
    "too)"
    code = "\n".join(l for l in source.split("\n") if not l.startswith(("#|", "%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def is_exercise(cell):
    first = "".join(cell["source"]).lstrip().split("\n")[0]
    return cell["cell_type"] == "markdown" and re.match(r"#+\s*Exercise", first) is not None


def has_figure(cell):
    return any(k in out.get("data", {}) for out in cell.get("outputs", []) for k in IMAGE_TYPES)


def chapter_stats(path):
    "One row of the table for the notebook at `path`"
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in code]
    sizes = [len(reader_lines(s)) for s in sources]
    exported = [s for s in sources if any(EXPORT.match(l) for l in s.split("\n"))]
    multi = sum(len(symbols_defined(s)) > 1 for s in exported)
    long_lines = sum(len(l) > MAX_LINE for s in sources for l in s.split("\n"))
    return dict(
        chapter=path.stem,
        cells=len(code),
        median=statistics.median(sizes) if sizes else 0,
        max=max(sizes, default=0),
        exported=len(exported),
        multi=multi,
        long=long_lines,
        figures=sum(has_figure(c) for c in code),
        exercises=sum(is_exercise(c) for c in cells),
        sizes=sizes,
    )


def print_table(rows):
    head = (
        f"{'chapter':<14} {'cells':>5} {'median':>6} {'max':>4} {'exported':>8} {'multi':>5} {'long':>5} "
        f"{'figures':>7} {'exercises':>9}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['chapter']:<14} {r['cells']:>5} {r['median']:>6g} {r['max']:>4} {r['exported']:>8} "
            f"{r['multi']:>5} {r['long']:>5} {r['figures']:>7} {r['exercises']:>9}"
        )


def book_totals(rows):
    sizes = [s for r in rows for s in r["sizes"]]
    exported = sum(r["exported"] for r in rows)
    return dict(
        median=statistics.median(sizes),
        max=max(sizes),
        multi_share=sum(r["multi"] for r in rows) / exported,
        long=sum(r["long"] for r in rows),
        exercises=sum(r["exercises"] for r in rows),
        no_figure=[r["chapter"] for r in rows if r["figures"] == 0 and r["chapter"] != "index"],
    )


def misses(total):
    "The targets the book misses, as sentences"
    out = []
    if total["median"] > MEDIAN_CELL:
        out.append(f"median code cell {total['median']:g} lines > {MEDIAN_CELL}")
    if total["max"] > MAX_CELL:
        out.append(f"a code cell of {total['max']} lines > {MAX_CELL}")
    if total["multi_share"] > MULTI_SHARE:
        out.append(
            f"{total['multi_share']:.0%} of exported cells define more than one symbol > {MULTI_SHARE:.0%}"
        )
    if total["long"]:
        out.append(f"{total['long']} code lines over {MAX_LINE} characters")
    if total["no_figure"]:
        out.append(f"chapters without a figure: {', '.join(total['no_figure'])}")
    if total["exercises"] < MIN_EXERCISES:
        out.append(f"{total['exercises']} exercises < {MIN_EXERCISES}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    a = ap.parse_args()
    rows = [chapter_stats(p) for p in chapters()]
    print_table(rows)
    total = book_totals(rows)
    print(
        f"book: median cell {total['median']:g} lines, max {total['max']}, "
        f"{total['multi_share']:.0%} of exported cells define more than one symbol, "
        f"{total['long']} long lines, {total['exercises']} exercises"
    )
    missed = misses(total)
    for m in missed:
        print("target missed:", m)
    if a.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
