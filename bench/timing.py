"""Timing helpers shared by the benchmark scripts (run them as `python bench/NAME.py`, so this folder is on
the path)."""

import statistics
import time


def interleaved_times(fns: dict, repeats: int, warmup: int = 2) -> dict:
    """Wall times `{name: [seconds] * repeats}` of the callables `fns`, run round-robin: each round calls
    every one once (starting one further along the list each round), so machine noise hits them all alike;
    the first `warmup` rounds are not kept."""
    names, ts = list(fns), {k: [] for k in fns}
    for r in range(warmup + repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            fns[name]()
            dt = time.perf_counter() - t0
            if r >= warmup:
                ts[name].append(dt)
    return ts


def quartiles(xs) -> tuple:
    "(first quartile, median, third quartile) of `xs`."
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, q2, q3


def paired_ratios(ts: list, base: list) -> list:
    "Round-by-round ratios `ts[i] / base[i]` of two interleaved series (noise shared within a round cancels)."
    return [a / b for a, b in zip(ts, base)]
