#!/usr/bin/env python
"""The library's import graph: which `ladd_nb` module imports which, at module level and inside functions.

    python tools/import_graph.py            # the edges, the cycles and the imports that go up the layers
    python tools/import_graph.py --check    # exit 1 when there is a cycle or an upward import

Every `import ladd_nb.x`, `from ladd_nb.x import ...` and `from .x import ...` anywhere in a module counts,
however deep inside a function it sits: an import inside a function is still a dependency, only a hidden one.
The layers (drawn in the map of `nbs/index.ipynb`) are listed in LAYERS, lowest first; a module may import
only from its own layer or below. A module missing from LAYERS is reported, so that a new module has to be
placed on purpose, and so is a name in LAYERS that is no module, so that the layers drawn stay the real ones.
"""

import argparse, ast, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = "ladd_nb"
# Lowest layer first. Modules of one layer may import each other (without a cycle).
LAYERS = [
    ["core"],
    ["schedules"],
    ["masked", "gaussian", "vq"],  # processes
    ["dit"],  # networks
    ["coladd", "diladd"],  # models (MDLM lives with its process in `masked`)
    ["train"],  # the trainer and checkpoints: any model with `loss`, any data source
    ["toy2d", "binsaw", "words", "text"],  # data
    ["metrics"],  # metrics (and the AR reference model they score with)
    ["presets"],
    ["studies", "gpumem"],  # gpumem: memory of the GPU presets (imports presets)
    ["cli", "widgets"],
]
SKIP = {"__init__", "_modidx"}


def modules():
    return sorted(p.stem for p in (ROOT / PKG).glob("*.py") if p.stem not in SKIP)


def imported(node, module):
    "The `ladd_nb` modules an import node names (relative imports resolved against `module`'s package)"
    if isinstance(node, ast.Import):
        return [a.name.split(".")[1] for a in node.names if a.name.startswith(PKG + ".")]
    if isinstance(node, ast.ImportFrom):
        if node.level == 1 and node.module:
            return [node.module.split(".")[0]]
        if node.level == 1:
            return [a.name for a in node.names]  # from . import x
        if node.module == PKG:
            return [a.name for a in node.names]  # from ladd_nb import x
        if node.module and node.module.startswith(PKG + "."):
            return [node.module.split(".")[1]]
    return []


def edges():
    "{module: {imported module: [line numbers]}} over every import statement in the file"
    graph = {}
    for m in modules():
        tree = ast.parse((ROOT / PKG / f"{m}.py").read_text())
        deps = graph.setdefault(m, {})
        for node in ast.walk(tree):
            for d in imported(node, m):
                if d != m and d not in SKIP:
                    deps.setdefault(d, []).append(node.lineno)
    return graph


def cycles(graph):
    "Every strongly connected component with more than one module (Tarjan's algorithm)"
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def layer_of(m):
    for i, layer in enumerate(LAYERS):
        if m in layer:
            return i
    return None


def upward(graph):
    "(module, imported module, lines) for every import of a higher layer"
    return [
        (m, d, lines)
        for m, deps in graph.items()
        for d, lines in deps.items()
        if layer_of(m) is not None and layer_of(d) is not None and layer_of(d) > layer_of(m)
    ]


def find_problems(graph) -> list[str]:
    "Everything the check refuses, as sentences: cycles, upward imports, unplaced modules, stale layer names"
    problems = [f"cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    problems += [
        f"upward import: {m} imports {d} (lines {', '.join(map(str, lines))})"
        for m, d, lines in upward(graph)
    ]
    problems += [
        f"module {m} is in no layer: add it to LAYERS in tools/import_graph.py"
        for m in graph
        if layer_of(m) is None
    ]
    problems += [
        f"LAYERS names {m}, which is no module of {PKG}: remove it from tools/import_graph.py"
        for layer in LAYERS
        for m in layer
        if m not in graph
    ]
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--check", action="store_true", help="exit 1 on a cycle, an upward import or an unplaced module"
    )
    a = ap.parse_args()
    graph = edges()
    for m, deps in graph.items():
        print(f"{m:<10} -> {', '.join(sorted(deps)) or '(nothing)'}")
    problems = find_problems(graph)
    for p in problems:
        print(p)
    if not problems:
        print("import graph: no cycle, every import goes down the layers")
    if a.check and problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
