"""Issue 18's probes, rerun as written: every fault ends in one clear line on stderr with exit code 2 (or
behaves correctly), and no file that existed before is changed (hashes of every file are compared)."""

import errno, hashlib, json, os, re, signal, subprocess, sys, tempfile, time
from pathlib import Path
import pytest
import torch
from ladd_nb.cli import main
from ladd_nb.core import make_generator
from ladd_nb.presets import check_output, model_from_checkpoint, shipped_checkpoint
from ladd_nb.train import CheckpointError, load_checkpoint, save_checkpoint, save_atomic

LADD = str(Path(sys.executable).parent / "ladd-nb")
# a short toy run with a checkpoint every 10 steps, all kept
RUN = ["toy2d-mdlm", "V=8", "batch_size=64", "log_every=1", "ckpt_every=10", "keep_ckpts=5", "--no-progress"]


def hashes(*roots) -> dict:
    "SHA-256 of every file under `roots` (files or folders): what must not change."
    files = [
        p for r in map(Path, roots) for p in ([r] if r.is_file() else sorted(r.rglob("*"))) if p.is_file()
    ]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def cli(capsys, *args):
    "(exit code, stdout, stderr) of `ladd-nb args` run in this process."
    try:
        code = main([str(a) for a in args], progress=False)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def refused(capsys, *args, says: str) -> str:
    "Run `ladd-nb args`, which must fail with exit 2 and one line on stderr containing `says`; that line."
    code, _, err = cli(capsys, *args)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"ladd-nb {args[0]}: error: "), err
    assert says in err, err
    return err


@pytest.fixture(scope="module")
def run30(tmp_path_factory):
    "A finished 30-step toy run with checkpoints at steps 10, 20 and 30."
    d = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", *RUN, "train_steps=30", "--out", str(d)], progress=False) == 0
    return d


def copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_probe1_second_run_into_a_used_folder_is_refused_and_a_killed_holder_taken_over(capsys, tmp_path):
    d = tmp_path / "conc"
    a = subprocess.Popen(
        [LADD, "train", *RUN, "train_steps=1000000", "--out", str(d), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        t0 = time.time()
        while not (d / "ckpt_00000020.pt").exists():
            assert a.poll() is None and time.time() - t0 < 300
            time.sleep(0.05)
        refused(
            capsys, "train", *RUN, "seed=1", "--out", d, says=f"in use by another run (process {a.pid} on "
        )
        refused(capsys, "train", *RUN, "--out", d, "--resume", says=f"(process {a.pid} on ")
    finally:
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
    stale = d / f".ckpt_00099999.pt.tmp{2**22 + 9}"  # as if it died in a save (no process has this id)
    stale.write_bytes(b"half a checkpoint")
    before = hashes(d)  # the temporary file too: a refused run changes nothing, not even the garbage
    # the killed run's lock is free again, but a new run must not mix with its files
    refused(capsys, "train", *RUN, "seed=1", "--out", d, says="already holds a run (ckpt_")
    assert hashes(d) == before
    newest = int(sorted(d.glob("ckpt_*.pt"))[-1].stem.split("_")[1])
    code, out, err = cli(capsys, "train", *RUN, f"train_steps={newest + 5}", "--out", d, "--resume")
    assert code == 0, err
    assert "took over the lock of a run that ended without letting go of it (process" in out
    assert f"removed {stale.name}, left by a killed run" in out and not stale.exists()
    assert not (d / ".lock").exists()  # let go at the end
    steps = [r["step"] for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())]
    assert steps == list(range(1, newest + 6))  # one run's log, no mix


def test_probe2_outputs_never_overwrite_inputs_or_checkpoints(capsys, run30, tmp_path):
    d = copy_run(run30, tmp_path / "run")
    ck = d / "ckpt_00000030.pt"
    before = hashes(d)
    refused(capsys, "sample", ck, "--steps", 2, "--out", ck, says="would overwrite the input")
    refused(capsys, "export", ck, ck, says="would overwrite the input")
    refused(capsys, "export", ck, d / "ckpt_00000020.pt", says="is a checkpoint or a run's file already")
    refused(
        capsys,
        "sample",
        ck,
        "--steps",
        2,
        "--out",
        d / "ckpt_00000010.pt",
        says="is a checkpoint or a run's file",
    )
    pre = shipped_checkpoint("toy2d-mdlm-checkerboard")
    refused(capsys, "sweep", pre, "--out", pre, says="would overwrite the input")
    refused(capsys, "export", ck, pre, "--pretrained", says="is a checkpoint or a run's file already")
    refused(capsys, "export", pre, pre, "--pretrained", says="would overwrite the input")
    assert hashes(d) == before
    # a weights-only export among the run's checkpoints is passed over by --resume
    assert cli(capsys, "export", ck, d / "ckpt_00000031.pt")[0] == 0
    code, out, err = cli(capsys, "train", *RUN, "train_steps=35", "--out", d, "--resume")
    assert code == 0, err
    assert (
        "refusing ckpt_00000031.pt: a weights-only export" in out and "resumed from ckpt_00000030.pt" in out
    )


def test_probe3_resume_refuses_changed_settings_unless_asked(capsys, run30, tmp_path):
    d = copy_run(run30, tmp_path / "run")
    before = hashes(d)
    refused(
        capsys,
        "train",
        *RUN,
        "train_steps=30",
        "density=ring",
        "--out",
        d,
        "--resume",
        says="density: 'checkerboard' -> 'ring'",
    )
    refused(
        capsys,
        "train",
        *RUN,
        "train_steps=30",
        "lr=0.01",
        "--out",
        d,
        "--resume",
        says="--allow-config-change",
    )
    assert hashes(d) == before
    code, out, err = cli(
        capsys,
        "train",
        *RUN,
        "train_steps=32",
        "density=ring",
        "--out",
        d,
        "--resume",
        "--allow-config-change",
    )
    assert code == 0, err
    assert "continuing with changed settings: density: 'checkerboard' -> 'ring'" in out
    assert json.loads(load_checkpoint(d / "ckpt_00000032.pt")["meta"])["config"]["density"] == "ring"


def test_probe4_zero_byte_checkpoint(capsys, run30, tmp_path):
    d = copy_run(run30, tmp_path / "run")
    empty = d / "ckpt_00000040.pt"
    empty.write_bytes(b"")
    before = hashes(d)
    says = "ckpt_00000040.pt is not a readable ladd_nb checkpoint (EOFError, the file ends too soon)"
    refused(capsys, "sample", empty, "--steps", 2, "--out", tmp_path / "s.txt", says=says)
    refused(capsys, "export", empty, tmp_path / "w.pt", says=says)
    with pytest.raises(CheckpointError, match="ends too soon"):
        model_from_checkpoint(empty)
    assert hashes(d) == before
    code, out, err = cli(capsys, "train", *RUN, "train_steps=30", "--out", d, "--resume")
    assert code == 0, err
    assert "refusing ckpt_00000040.pt" in out and "resumed from ckpt_00000030.pt at step 30" in out


def damaged(ck: dict, **change) -> dict:
    "Checkpoint `ck` with entries changed (a value None: the entry removed)."
    return {k: v for k, v in {**ck, **change}.items() if v is not None or k not in change}


@pytest.mark.parametrize(
    "change, says",
    [
        (dict(meta=None), "no 'meta'"),
        (dict(model=None), "no 'model'"),
        (dict(ema=None, rng=None), "no 'rng'"),
        (dict(step=-5), "'step' is -5"),
        (dict(step="30"), "'step' is str"),
        (dict(model={"w": 3}), "'model' holds values that are not tensors"),
        (dict(meta="[1, 2]"), "'meta' is not a JSON object"),
        (dict(train_config="{cut"), "'train_config' is not JSON"),
    ],
)
def test_probe5_malformed_checkpoints_are_refused(capsys, run30, tmp_path, change, says):
    ck = load_checkpoint(run30 / "ckpt_00000030.pt")
    bad = tmp_path / "bad.pt"
    save_atomic(damaged(ck, **change), bad)  # saved without a new checksum: the layout is checked first
    before = hashes(tmp_path)
    refused(capsys, "sample", bad, "--steps", 2, "--out", tmp_path / "s.txt", says=says)
    assert hashes(tmp_path) == before


def test_probe5_missing_config_keys_are_not_filled_with_defaults(capsys, run30, tmp_path):
    ck = load_checkpoint(run30 / "ckpt_00000030.pt")
    meta = json.loads(ck["meta"])
    del meta["config"]["density"]
    save_checkpoint(damaged(ck, meta=json.dumps(meta)), tmp_path / "nodensity.pt")
    refused(
        capsys,
        "sweep",
        tmp_path / "nodensity.pt",
        "--out",
        tmp_path / "sw",
        says="lacks config keys ['density']",
    )
    save_checkpoint(damaged(ck, meta=json.dumps({"preset": "toy2d-mdlm"})), tmp_path / "noconfig.pt")
    refused(
        capsys,
        "sample",
        tmp_path / "noconfig.pt",
        "--steps",
        2,
        "--out",
        tmp_path / "s.txt",
        says="no config",
    )
    assert not (tmp_path / "sw").exists() and not (tmp_path / "s.txt").exists()


def test_probe7_out_naming_a_file_and_unwritable_folders(capsys, run30, tmp_path):
    f = tmp_path / "a_file"
    f.write_text("mine")
    refused(capsys, "train", *RUN, "train_steps=5", "--out", f, says="is a file")
    refused(capsys, "sample", run30 / "ckpt_00000030.pt", "--steps", 2, "--out", f / "s.txt", says="Errno")
    assert f.read_text() == "mine"


def unwritable_folder(tmp_path) -> Path:
    """A folder this process may not write in: a read-only folder of its own, or, as root (whom permissions do
    not bind), the kernel's /sys, where even root may not create files."""
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        os.chmod(ro, 0o555)
        return ro
    try:
        Path("/sys/ladd_nb_probe").write_text("x")
    except OSError:
        return Path("/sys")
    Path("/sys/ladd_nb_probe").unlink()
    pytest.skip("no folder here refuses writes to root")


def test_probe7_read_only_folder_is_one_line_exit_2(capsys, tmp_path):
    ro = unwritable_folder(tmp_path)
    before = sorted(p.name for p in ro.iterdir())
    pre = shipped_checkpoint("toy2d-mdlm-checkerboard")
    for args in (
        ["sample", pre, "--steps", 2, "--out", ro / "ladd_s.txt"],
        ["train", *RUN, "train_steps=5", "--out", ro / "ladd_run"],
        ["export", pre, ro / "ladd_w", "--pretrained"],
    ):
        refused(capsys, *args, says="[Errno")
    assert sorted(p.name for p in ro.iterdir()) == before


def test_disk_full_keeps_every_earlier_checkpoint_and_no_temporary_file(capsys, monkeypatch, tmp_path):
    import ladd_nb.core

    calls = {"n": 0}
    real_fsync = os.fsync

    def full_disk(fd):  # the third checkpoint's write finds the disk full
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(ladd_nb.core.os, "fsync", full_disk)
    d = tmp_path / "run"
    refused(capsys, "train", *RUN, "train_steps=50", "--out", d, says="No space left on device")
    assert sorted(p.name for p in d.iterdir()) == ["ckpt_00000010.pt", "ckpt_00000020.pt", "metrics.jsonl"]
    for p in d.glob("ckpt_*.pt"):
        load_checkpoint(p)


def test_a_real_write_limit_keeps_earlier_checkpoints_and_no_temporary_file(tmp_path):
    """The kernel refuses a checkpoint's write half-way (RLIMIT_FSIZE, like a full disk; torch.save turns it
    into a RuntimeError): one line naming the checkpoint, no temporary file, the earlier checkpoint intact."""
    import resource

    d = tmp_path / "run"
    r = subprocess.run([LADD, "train", *RUN, "train_steps=10", "--out", str(d)], capture_output=True)
    assert r.returncode == 0
    size = (d / "ckpt_00000010.pt").stat().st_size

    def limit():  # files may grow to three quarters of a checkpoint: the next one is cut in the middle
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size * 3 // 4, size * 3 // 4))

    before = hashes(d / "ckpt_00000010.pt")
    r = subprocess.run(
        [LADD, "train", *RUN, "train_steps=20", "--out", str(d), "--resume"],
        capture_output=True,
        text=True,
        preexec_fn=limit,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "File too large" in r.stderr and "ckpt_00000020.pt" in r.stderr, r.stderr
    assert hashes(d / "ckpt_00000010.pt") == before
    assert sorted(p.name for p in d.iterdir()) == ["ckpt_00000010.pt", "loss.png", "metrics.jsonl"]


def test_stale_temporary_files_of_a_killed_save_are_removed(capsys, run30, tmp_path):
    d = copy_run(run30, tmp_path / "run")
    stale = d / f".ckpt_00000040.pt.tmp{2**22 + 7}"  # no process has this id: a save killed half-way
    stale.write_bytes(b"half a checkpoint")
    code, out, err = cli(capsys, "train", *RUN, "train_steps=35", "--out", d, "--resume")
    assert code == 0, err
    assert f"removed {stale.name}, left by a killed run" in out and not stale.exists()


def test_probe10_a_cut_off_metrics_line_does_not_block_resume(capsys, run30, tmp_path):
    d = copy_run(run30, tmp_path / "run")
    with open(d / "metrics.jsonl", "a") as f:
        f.write('{"step": 31, "lo')  # killed while writing step 31's row
    code, out, err = cli(capsys, "train", *RUN, "train_steps=32", "--out", d, "--resume")
    assert code == 0, err
    steps = [r["step"] for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())]
    assert steps == list(range(1, 33))
    lines = (d / "metrics.jsonl").read_text().splitlines()
    lines[4] = lines[4][:10]  # damage in the middle is not a kill: it is reported, with the file and line
    (d / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    refused(
        capsys,
        "train",
        *RUN,
        "train_steps=34",
        "--out",
        d,
        "--resume",
        says="metrics.jsonl, line 5, is not JSON",
    )


def test_probe12_overrides_after_flags_and_given_twice(capsys, tmp_path):
    code, out, err = cli(
        capsys, "train", "toy2d-mdlm", "--out", tmp_path / "r", "V=8", "train_steps=3", "batch_size=8"
    )
    assert code == 0, err
    assert load_checkpoint(tmp_path / "r" / "ckpt_00000003.pt")["step"] == 3
    refused(
        capsys, "train", *RUN, "lr=0.1", "lr=0.2", "--out", tmp_path / "r2", says="give lr more than once"
    )
    assert not (tmp_path / "r2").exists()


@pytest.mark.parametrize(
    "override, says",
    [("lr=inf", "lr must be a finite number"), ("warmup_steps=-1", "warmup_steps must be >= 0")],
)
def test_probe12_training_settings_are_range_checked(capsys, tmp_path, override, says):
    refused(capsys, "train", *RUN, override, "--out", tmp_path / "r", says=says)
    assert not (tmp_path / "r").exists()


def test_probe12_divergence_stops_the_run_and_names_the_last_checkpoint(capsys, tmp_path):
    d = tmp_path / "r"
    err = refused(
        capsys,
        "train",
        "toy2d-mdlm",
        "V=8",
        "batch_size=64",
        "ckpt_every=1",
        "lr=1e30",
        "warmup_steps=0",
        "--no-progress",
        "--out",
        d,
        says="training diverged at step",
    )
    last = sorted(d.glob("ckpt_*.pt"))[-1]
    assert f"the last good checkpoint is {last.name}" in err
    assert torch.isfinite(torch.cat([v.flatten() for v in load_checkpoint(last)["model"].values()])).all()


def test_probe12_unknown_sample_suffix_is_refused_before_sampling(capsys, tmp_path):
    pre = shipped_checkpoint("toy2d-mdlm-checkerboard")
    # with a billion steps the sampling would take hours: the refusal must come first
    refused(
        capsys,
        "sample",
        pre,
        "--steps",
        10**9,
        "--out",
        tmp_path / "s.csv",
        says="unknown sample file type '.csv'",
    )


def test_probe12_unreadable_checkpoint_message_gives_no_unsafe_advice(capsys, tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"format": "ladd_nb-checkpoint-v1", "x": Evil()}, protocol=2))
    err = refused(
        capsys, "sample", bad, "--steps", 2, "--out", tmp_path / "s.txt", says="objects other than tensors"
    )
    assert "weights_only" not in err


def test_probe12_single_bit_flips_are_refused_or_harmless(run30, seed):
    "300 single-bit flips at random places of a checkpoint: each is refused, or loads with the same contents."
    good = (run30 / "ckpt_00000030.pt").read_bytes()
    want = load_checkpoint(run30 / "ckpt_00000030.pt")["model"]
    g = make_generator(seed)
    places = torch.randint(0, len(good) * 8, (300,), generator=g).tolist()
    outcome = {"refused": 0, "same": 0}
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "flip.pt"
        for bit in places:
            data = bytearray(good)
            data[bit // 8] ^= 1 << (bit % 8)
            p.write_bytes(bytes(data))
            try:
                ck = load_checkpoint(p)
            except CheckpointError:
                outcome["refused"] += 1
                continue
            assert all(torch.equal(v, want[k]) for k, v in ck["model"].items())  # only bytes without content
            outcome["same"] += 1
    assert outcome["refused"] > 0 and sum(outcome.values()) == 300


@pytest.mark.parametrize(
    "name, option",
    [
        ("text-char-ar", "--n"),
        ("text-char-mdlm", "--n"),
        ("text-char-diladd", "--n"),
        ("toy2d-mdlm-checkerboard", "--steps"),
    ],
)
def test_probe8_requests_beyond_memory_are_refused_before_allocating(capsys, tmp_path, name, option):
    "A billion samples of a text model, or a billion steps: refused at once with the memory it would need."
    args = {"--n": 16, "--steps": 2} | {option: 10**9}
    says = "would need" if option == "--n" else "is over MAX_STEPS"
    pre = shipped_checkpoint(name)
    refused(
        capsys,
        "sample",
        pre,
        "--steps",
        args["--steps"],
        "--n",
        args["--n"],
        "--out",
        tmp_path / "s.txt",
        says=says,
    )
    assert not (tmp_path / "s.txt").exists()


def test_an_older_checkpoint_without_checksum_loads_with_a_warning(run30, tmp_path):
    ck = load_checkpoint(run30 / "ckpt_00000030.pt")
    save_atomic(damaged(ck, checksum=None), tmp_path / "old.pt")
    with pytest.warns(UserWarning, match="no checksum .* loaded unverified"):
        assert load_checkpoint(tmp_path / "old.pt")["step"] == 30


def test_allowed_changes_take_effect(capsys, tmp_path):
    "A new lr and weight decay given with --allow-config-change are the ones the optimiser then uses."
    run = ["toy2d-mdlm", "V=8", "batch_size=32", "log_every=1", "warmup_steps=0", "--no-progress"]
    d = tmp_path / "r"
    assert cli(capsys, "train", *run, "train_steps=10", "--out", d)[0] == 0
    code, out, err = cli(
        capsys,
        "train",
        *run,
        "train_steps=20",
        "lr=0.001",
        "weight_decay=0.05",
        "--out",
        d,
        "--resume",
        "--allow-config-change",
    )
    assert code == 0, err
    lrs = {r["step"]: r["lr"] for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())}
    assert lrs[10] == 3e-3 and all(lrs[s] == 1e-3 for s in range(11, 21))
    groups = load_checkpoint(d / "ckpt_00000020.pt")["optimizer"]["param_groups"]
    assert all(g["lr"] == g["initial_lr"] == 1e-3 and g["weight_decay"] == 0.05 for g in groups)


def test_a_run_killed_before_its_first_checkpoint_starts_again_with_resume(capsys, tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "lo')  # only a log, cut off
    refused(capsys, "train", *RUN, "train_steps=5", "--out", d, says="already holds a run (metrics.jsonl)")
    code, out, err = cli(capsys, "train", *RUN, "train_steps=5", "--out", d, "--resume")
    assert code == 0, err
    assert "metrics.jsonl removed, the run starts again from step 0" in out
    steps = [r["step"] for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())]
    assert steps == [1, 2, 3, 4, 5]


def test_only_the_runs_own_checkpoint_names_count(capsys, run30, tmp_path):
    "A copy named ckpt_best.pt is neither resumed from nor deleted by the run's pruning."
    d = copy_run(run30, tmp_path / "run")
    (d / "ckpt_best.pt").write_bytes((d / "ckpt_00000010.pt").read_bytes())
    run = [a for a in RUN if not a.startswith("keep_ckpts=")]
    code, out, err = cli(capsys, "train", *run, "train_steps=32", "keep_ckpts=1", "--out", d, "--resume")
    assert code == 0, err
    assert "resumed from ckpt_00000030.pt" in out
    assert sorted(p.name for p in d.glob("ckpt_*.pt")) == ["ckpt_00000032.pt", "ckpt_best.pt"]


def test_outputs_never_overwrite_a_pretrained_folders_files_or_a_runs_log(capsys, run30, tmp_path):
    d = copy_run(run30, tmp_path / "run")
    pre = tmp_path / "pre"
    assert cli(capsys, "export", d / "ckpt_00000030.pt", pre, "--pretrained")[0] == 0
    before = hashes(d, pre)
    ck = d / "ckpt_00000030.pt"
    for target in (pre / "model.safetensors", pre / "config.json", d / "metrics.jsonl", d / "loss.png"):
        with pytest.raises(ValueError, match="is a checkpoint or a run's file already"):
            check_output(target, [ck])
    refused(capsys, "export", ck, pre / "model.safetensors", says="a weights-only checkpoint is a .pt file")
    refused(capsys, "export", ck, tmp_path / "w.bin", says="a weights-only checkpoint is a .pt file")
    refused(capsys, "export", ck, d, "--pretrained", says="would overwrite the input")
    refused(capsys, "sweep", ck, "--out", d, says="would overwrite the input")
    (tmp_path / "adir.pt").mkdir()
    refused(capsys, "export", ck, tmp_path / "adir.pt", says="not a regular file")
    assert hashes(d, pre) == before


def test_a_rank_0_refusal_ends_every_process_under_torchrun(run30, tmp_path):
    "torchrun with 2 processes (gloo) into a used folder: each process prints the one-line error."
    d = copy_run(run30, tmp_path / "run")
    torchrun = str(Path(sys.executable).parent / "torchrun")
    r = subprocess.run(
        [torchrun, "--nproc_per_node", "2", LADD, "train", *RUN, "train_steps=40", "--out", str(d)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode != 0
    assert r.stderr.count("ladd-nb train: error: ") == 2 and "already holds a run" in r.stderr, r.stderr
    assert not re.search(r'File ".*ladd_nb/', r.stderr), (
        r.stderr
    )  # torchrun reports its child; ladd_nb does not


def test_out_of_memory_and_negative_sizes_are_one_line(capsys, tmp_path):
    refused(capsys, "train", *RUN, "hidden=-3", "--out", tmp_path / "a", says="hidden must be >= 0, got -3")
    run = [a for a in RUN if not a.startswith("batch_size=")]
    refused(capsys, "train", *run, "batch_size=1000000000000", "--out", tmp_path / "b", says="out of memory")


def test_a_bad_byte_late_in_a_corpus_is_named(tmp_path):
    from ladd_nb.text import check_text_file

    late = tmp_path / "late.txt"
    late.write_bytes(b"hello world\n\n" * 40_000 + b"caf\xe9\n")  # past any first block
    with pytest.raises(ValueError, match="not UTF-8 text \\(invalid UTF-8 near byte 520003\\)"):
        check_text_file(str(late))
