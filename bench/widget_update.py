"""How long one update of the step-budget explorer takes on CPU with the shipped checkpoints.

For each data/model/schedule: the first choice (loads the checkpoint and computes the quality curve once),
then moving K, and moving the trajectory scrubber (re-rendering the figure), medians of 5.

    .venv/bin/python bench/widget_update.py
"""

import statistics, time
import torch
from ladd_nb.widgets import StepBudgetExplorer


def timed(fn, repeats=5):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"{'data':>16} {'model':>13} {'schedule':>10} {'first (s)':>10} {'move K (s)':>11} {'scrub (s)':>10}"
    )
    for data, model, sched in [
        ("eight_gaussians", "Di-LADD", "sequential"),
        ("eight_gaussians", "Co-LADD", "sequential"),
        ("eight_gaussians", "MDLM", "sequential"),
        ("binsaw", "Di-LADD", "sequential"),
        ("binsaw", "Co-LADD", "joint"),
        ("binsaw", "perfect MDLM", "sequential"),
    ]:
        t0 = time.perf_counter()
        ex = StepBudgetExplorer(data, model, sched, K=1)
        first = time.perf_counter() - t0
        ks = iter(ex.k_choices[1:4] * 5)
        move = timed(lambda: (ex.set(K=next(ks)), ex.png()))

        def scrub():
            ex.step = max(0, ex.step - 1)
            ex.png()

        print(f"{data:>16} {model:>13} {sched:>10} {first:>10.2f} {move:>11.2f} {timed(scrub):>10.2f}")


if __name__ == "__main__":
    main()
