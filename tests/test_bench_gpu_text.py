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


def test_gpu_text_bench_dry_run(tmp_path):
    """`--dry-run` needs no GPU: per model, FLOPs per step (as `FlopCounterMode` counts them on shape-only
    tensors), bytes moved, the roofline step time and MFU, for a step of the global batch in micro-batches."""
    script = Path(__file__).parents[1] / "bench" / "gpu_text.py"
    flags = ["--dry-run", "--size", "tiny", "--length", "64", "--batch", "8", "--micro-batch", "4"]
    r = subprocess.run(
        [sys.executable, str(script), *flags, "--out", str(tmp_path / "d.json")],
        capture_output=True,
        text=True,
        timeout=600,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((tmp_path / "d.json").read_text())
    assert [x["model"] for x in rows] == ["MDLM", "Co-LADD stage 1", "Co-LADD stage 2"]
    peak, hbm = 989.4e12, 4.8e12  # the defaults: one H200
    for x in rows:
        assert (x["batch"], x["micro_batch"], x["grad_accum"], x["length"]) == (8, 4, 2, 64)
        assert 0.5 < x["tflops_per_step"] / x["palm_tflops_per_step"] < 2, x
        flops, moved, t = x["tflops_per_step"] * 1e12, x["traffic_gb_per_step"] * 1e9, x["est_step_s"]
        # a roofline is at least the whole step's FLOPs at the peak rate and its bytes at the bandwidth
        assert t >= max(flops / peak, moved / hbm) * 0.99 and t <= (flops / peak + moved / hbm) * 1.01, x
        assert abs(x["est_mfu"] - flops / t / peak) < 2e-3 and 0 < x["est_mfu"] < 1
    # Co-LADD runs a joint network over tokens and latent slots, and more networks besides, in both stages
    assert all(x["tflops_per_step"] > rows[0]["tflops_per_step"] for x in rows[1:])
    assert "MFU" in r.stdout and "TFLOP" in r.stdout and "s per step" in r.stdout


def test_gpu_text_bench_real_data_path(tmp_path):
    "`--data preset`: the batches come through the preset's own data source, here local text files."
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    for i in range(8):  # documents of text (the OpenWebText presets hold documents out by hash)
        (tmp_path / f"doc{i}.txt").write_text(" ".join(words[(i + j) % 8] for j in range(600)))
    script = Path(__file__).parents[1] / "bench" / "gpu_text.py"
    flags = ["--device", "cpu", "--size", "tiny", "--length", "64", "--batch", "2", "--steps", "1"]
    flags += [
        "--warmup",
        "1",
        "--no-compile",
        "--peak-tflops",
        "1",
        "--data",
        "preset",
        "--tokenizer",
        "char",
    ]
    flags += [
        "--corpus",
        str(tmp_path / "doc*.txt"),
        "--set",
        "valid_frac=0.5",
        "--out",
        str(tmp_path / "b.json"),
    ]
    r = subprocess.run(
        [sys.executable, str(script), *flags],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            "OMP_NUM_THREADS": "1",
            "PATH": "/usr/bin:/bin",
            "HF_HUB_OFFLINE": "1",
            "LADD_NB_CACHE": str(tmp_path),
        },
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((tmp_path / "b.json").read_text())
    assert [x["data"] for x in rows] == ["preset"] * 3 and all(x["tokens_per_s"] > 0 for x in rows)
