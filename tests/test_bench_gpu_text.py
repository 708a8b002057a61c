"""The GPU text benchmark stays runnable: a smoke run on CPU (tiny sizes) prints its rows, the step-time
ratios and an MFU."""

import json, subprocess, sys
from pathlib import Path


def test_gpu_text_bench_smoke_on_cpu(tmp_path):
    script = Path(__file__).parents[1] / "bench" / "gpu_text.py"
    r = subprocess.run(
        [
            sys.executable,
            str(script),
            "--device",
            "cpu",
            "--size",
            "tiny",
            "--length",
            "64",
            "--batch",
            "2",
            "--steps",
            "1",
            "--warmup",
            "1",
            "--no-compile",
            "--peak-tflops",
            "1",
            "--out",
            str(tmp_path / "b.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((tmp_path / "b.json").read_text())
    assert [x["model"] for x in rows] == ["MDLM", "Co-LADD stage 1", "Co-LADD stage 2"]
    for x in rows:
        assert x["tokens_per_s"] > 0 and x["tflops_per_step"] > 0 and 0 < x["mfu"] < 1
        # counted FLOPs and the 6ND estimate agree within a factor of 2 (the head and attention are
        # counted differently)
        assert 0.5 < x["tflops_per_step"] / x["palm_tflops_per_step"] < 2, x
    assert "step time / MDLM" in r.stdout and "MFU" in r.stdout
