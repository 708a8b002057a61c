"""Under torchrun, text data comes from a cache built before the run (`ladd-nb prepare`): without it every
process stops at once with one line saying so, instead of waiting on process 0 until the group's timeout."""

import os, subprocess, sys
import pytest
from pathlib import Path

BIN = Path(sys.executable).parent
RUN = ["text-char-mdlm", "train_steps=2", "batch_size=8", "length=32", "log_every=1", "--no-progress"]


def test_torchrun_without_the_data_cache_stops_every_process_then_prepare_fixes_it(tmp_path):
    env = {**os.environ, "LADD_NB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    torchrun = [str(BIN / "torchrun"), "--nproc_per_node", "2", str(BIN / "ladd-nb")]
    r = subprocess.run(
        [*torchrun, "train", *RUN, "--out", str(tmp_path / "a")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode != 0
    assert r.stderr.count("ladd-nb train: error: the data cache of this run is missing on ") == 2, r.stderr
    assert "ladd-nb prepare" in r.stderr
    prep = [str(BIN / "ladd-nb"), "prepare", RUN[0], *[a for a in RUN if "=" in a]]
    p = subprocess.run(prep, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    r = subprocess.run(
        [*torchrun, "train", *RUN, "--out", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b" / "ckpt_00000002.pt").exists()


def test_caches_that_differ_between_machines_are_refused(monkeypatch):
    "Two machines that each built their own cache, with different results: every process stops, saying so."
    import torch.distributed as dist
    from ladd_nb.text import cached_everywhere

    others = {"node-a": "digest-1", "node-b": "digest-2"}

    def all_gather_object(out, mine):  # as if process 1 ran on another machine with another cache
        out[:] = list(others.items())

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist, "all_gather_object", all_gather_object)
    with pytest.raises(ValueError, match="the data caches of this run differ between node-a, node-b"):
        cached_everywhere(lambda: "built", lambda: "digest-1")
    others["node-b"] = "digest-1"
    assert cached_everywhere(lambda: "built", lambda: "digest-1") == "built"
