"""The trainer from the command line: exact resume after kill -9, refusing bad checkpoints, and torchrun
(gloo, CPU)."""

import json, os, pickle, signal, subprocess, sys, time
from pathlib import Path
import pytest

BIN = Path(sys.executable).parent
LADD = str(BIN / "ladd-nb")
# A run long enough to be killed in the middle, short enough for CI.
RUN = ["toy2d-mdlm", "train_steps=1500", "V=8", "log_every=1", "ckpt_every=100", "batch_size=256", "ema=0.99"]


def ladd(*args, **kw):
    return subprocess.run([LADD, *args], capture_output=True, text=True, timeout=900, **kw)


def metrics(d):
    rows = [json.loads(l) for l in (Path(d) / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("time_s", None)  # wall time is the only thing allowed to differ
    return rows


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("full")
    r = ladd("train", *RUN, "--out", str(d), "--no-progress")
    assert r.returncode == 0, r.stderr
    return d


def test_kill9_then_resume_is_bit_identical(uninterrupted, tmp_path):
    d = tmp_path / "killed"
    p = subprocess.Popen(
        [LADD, "train", *RUN, "--out", str(d), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    t0 = time.time()
    while not (d / "ckpt_00000300.pt").exists():
        assert p.poll() is None, "the run ended before it could be killed; make it longer"
        assert time.time() - t0 < 600
        time.sleep(0.01)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL
    assert not (d / "ckpt_00001500.pt").exists()  # it really died mid-run
    r = ladd("train", *RUN, "--out", str(d), "--resume", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "resumed from ckpt_" in r.stdout + r.stderr
    full, resumed = metrics(uninterrupted), metrics(d)
    assert [m["step"] for m in resumed] == list(range(1, 1501))
    assert resumed == full  # every loss, metric, lr and grad norm, exactly


def test_truncated_checkpoint_is_refused_and_last_good_kept(uninterrupted, tmp_path):
    good = sorted(uninterrupted.glob("ckpt_*.pt"))  # the run keeps the newest two
    assert len(good) == 2
    d = tmp_path / "trunc"
    d.mkdir()
    for c in good:
        (d / c.name).write_bytes(c.read_bytes())
    (d / "metrics.jsonl").write_text((uninterrupted / "metrics.jsonl").read_text())
    newest = d / good[-1].name
    newest.write_bytes(newest.read_bytes()[:1000])  # a torn write
    r = ladd("sample", str(newest), "--steps", "2", "--out", str(d / "s.txt"))
    assert r.returncode == 2 and "not a readable ladd_nb checkpoint" in r.stderr and "truncated" in r.stderr
    r = ladd("train", *RUN, "--out", str(d), "--resume", "--no-progress")
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert f"refusing {newest.name}" in out and f"resumed from {good[0].name}" in out
    assert metrics(d) == metrics(uninterrupted)  # and the continued run is still exact


def test_malicious_pickle_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "ladd_nb-checkpoint-v1", "model": Evil()}))
    for cmd in (
        ["sample", str(evil), "--steps", "2", "--out", str(tmp_path / "s.txt")],
        ["sweep", str(evil), "--out", str(tmp_path / "sw")],
    ):
        r = ladd(*cmd)
        assert r.returncode == 2 and "not a readable ladd_nb checkpoint" in r.stderr
    assert not marker.exists()


def test_sample_and_sweep_from_checkpoint(uninterrupted, tmp_path):
    ck = uninterrupted / "ckpt_00001500.pt"
    r = ladd("sample", str(ck), "--steps", "4", "--n", "7", "--out", str(tmp_path / "s.txt"))
    assert r.returncode == 0, r.stderr
    rows = [list(map(int, l.split())) for l in (tmp_path / "s.txt").read_text().splitlines()]
    assert len(rows) == 7 and all(len(x) == 2 and all(0 <= v < 8 for v in x) for x in rows)
    r = ladd("sweep", str(ck), "--steps", "1,2,8", "--out", str(tmp_path / "sw"))
    assert r.returncode == 0, r.stderr
    res = (tmp_path / "sw" / "results.csv").read_text().splitlines()
    assert len(res) == 4 and res[0].startswith("K,")
    assert (tmp_path / "sw" / "quality_vs_steps.png").stat().st_size > 0


def test_torchrun_two_processes_match_one(tmp_path):
    args = ["toy2d-mdlm", "train_steps=40", "V=8", "log_every=1", "batch_size=256", "--no-progress"]
    one = ladd("train", *args, "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            LADD,
            "train",
            *args,
            "--out",
            str(tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = metrics(tmp_path / "one"), metrics(tmp_path / "two")
    assert [m["step"] for m in a] == [m["step"] for m in b] == list(range(1, 41))
    for x, y in zip(a, b):
        for k in ("loss", "nelbo", "masked_ce", "grad_norm"):
            assert y[k] == pytest.approx(x[k], rel=1e-4, abs=1e-6), (x["step"], k)


def test_torchrun_trains_two_stage_diladd(tmp_path):
    """A two-stage model (parameters unused in stage 1, encoder and codebook frozen in stage 2) trains under
    DDP; its VQ statistics are all-reduced."""
    args = [
        "toy2d-diladd",
        "train_steps=30",
        "stage1_steps=15",
        "batch_size=256",
        "log_every=5",
        "--no-progress",
    ]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            LADD,
            "train",
            *args,
            "--out",
            str(tmp_path / "ddp"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    log = [json.loads(l) for l in open(tmp_path / "ddp" / "metrics.jsonl")]
    assert [x["step"] for x in log] == [5, 10, 15, 20, 25, 30]
    assert "code_ce" not in log[1] and "code_ce" in log[-1]  # stage 1, then stage 2
