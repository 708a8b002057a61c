"""Text presets from the command line: no network on any default path, the reduced character study, torchrun
(gloo) matching one process, BPE on local files."""

import csv, json, math, os, subprocess, sys
from pathlib import Path
import pytest
import torch

BIN = Path(sys.executable).parent
LADD = str(BIN / "ladd-nb")
ALPHABET = set(" abcdefghijklmnopqrstuvwxyz")

BLOCK_NETWORK = '''
import socket
_connect = socket.socket.connect
def _no_network(self, address):
    if self.family == socket.AF_UNIX or (isinstance(address, tuple) and address[0] in ("127.0.0.1",
    "localhost", "::1")):
        return _connect(self, address)
    raise OSError(f"network access attempted: {address!r}")
socket.socket.connect = _no_network
_getaddrinfo = socket.getaddrinfo
def _no_lookup(host, *a, **k):
    if host in (None, "127.0.0.1", "localhost", "::1"): return _getaddrinfo(host, *a, **k)
    raise OSError(f"network access attempted: name lookup of {host!r}")
socket.getaddrinfo = _no_lookup
'''


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    """Environment of a process with the network cut (sockets refuse non-local addresses) and no HF_*_OFFLINE
    switch: any hub access fails loudly."""
    d = tmp_path_factory.mktemp("nonet")
    (d / "sitecustomize.py").write_text(BLOCK_NETWORK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {"PYTHONPATH": str(d), "OMP_NUM_THREADS": "1", "LADD_NB_CACHE": str(d / "cache")}
    return env


def ladd(*args, env=None, timeout=900):
    return subprocess.run([LADD, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_network_block_works(offline_env):
    "The blocker itself: a hub request in that environment fails (so the tests below could fail)."
    code = "import urllib.request; urllib.request.urlopen('https://huggingface.co', timeout=5)"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=offline_env, timeout=60
    )
    assert r.returncode != 0 and "network access attempted" in r.stderr


def test_default_text_commands_work_offline(offline_env, tmp_path):
    r = ladd("presets", env=offline_env)
    assert r.returncode == 0 and "text-char-diladd" in r.stdout and "owt-coladd" in r.stdout, r.stderr
    r = ladd("prepare", "text-char-mdlm", env=offline_env)
    assert r.returncode == 0 and "train_rows" in r.stdout, r.stderr[-2000:]
    r = ladd("prepare", "toy2d-mdlm", env=offline_env)
    assert r.returncode == 2 and "only text presets" in r.stderr
    r = ladd(
        "train",
        "text-char-mdlm",
        "train_steps=4",
        "batch_size=8",
        "eval_every=2",
        "log_every=1",
        "--out",
        str(tmp_path / "m"),
        "--no-progress",
        env=offline_env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    ev = [json.loads(l) for l in (tmp_path / "m" / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in ev] == [2, 4] and all(e["valid_nelbo"] > 0 for e in ev)
    assert set((tmp_path / "m" / "samples_00000004.txt").read_text().replace("\n", "")) <= ALPHABET
    r = ladd(
        "sample",
        str(tmp_path / "m" / "ckpt_00000004.pt"),
        "--steps",
        "8",
        "--n",
        "3",
        "--out",
        str(tmp_path / "s.txt"),
        env=offline_env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    texts = (tmp_path / "s.txt").read_text().strip("\n").split("\n\n")
    assert len(texts) == 3 and all(len(t) == 64 and set(t) <= ALPHABET for t in texts)
    # a hub corpus is refused with a clear message, without trying the network
    r = ladd(
        "train",
        "lm1b-mdlm",
        "train_steps=1",
        "size=tiny",
        "batch_size=2",
        "--out",
        str(tmp_path / "hub"),
        "--no-progress",
        env=offline_env | {"HF_HUB_OFFLINE": "1"},
    )
    assert (
        r.returncode == 2 and "Hugging Face Hub" in r.stderr and "network access attempted" not in r.stderr
    ), r.stderr[-2000:]


@pytest.mark.parametrize("name", ["text-char-mdlm", "text-char-coladd", "text-char-diladd"])
def test_reduced_character_study(name, offline_env, tmp_path, seed):
    """The character study, reduced (K = 4 and L, 64 samples), on the shipped checkpoints, offline: gen PPL
    under the shipped AR reference, entropy, token KL."""
    from ladd_nb.presets import shipped_checkpoint, model_from_checkpoint
    from ladd_nb.presets import text_eval, load_reference

    model, c, _ = model_from_checkpoint(shipped_checkpoint(name))
    rows = text_eval(model, c, [4, 64], tmp_path, n=64, seed=seed)
    scheds = {"text-char-diladd": {"sequential", "joint"}}.get(
        name, {c.schedule if name.endswith("coladd") else "-"}
    )
    assert {r["schedule"] for r in rows} == scheds and {r["K"] for r in rows} == {4, 64}
    for r in rows:
        # the reference model knows the held-out text: a gen PPL far below the 27 of uniform characters
        assert 1 < r["data_gen_ppl"] < 8, r
        # per-sample entropy of 64 characters cannot exceed log 27 = 3.30 nats; text is near 2.66
        assert 1 < r["gen_ppl"] < float("inf") and 2.0 < r["entropy"] < math.log(27) and r["token_kl"] >= 0, r
        # the joint schedule calls at every step; a time-free token phase may skip calls where no row changed
        if "nfe_joint" in r:
            assert r["nfe_joint"] == r["K"] + 1 and r["evals_joint"] == r["nfe_joint"] * 64, r
        else:
            assert 1 <= r["nfe_token"] <= r["K"] + 1 and r["evals_token"] <= r["nfe_token"] * 64, r
        assert r["sample_s"] > 0
    for s in scheds:  # few-step degradation: 4 steps are not better than 64 (beyond noise)
        k4, kL = [next(r for r in rows if r["schedule"] == s and r["K"] == K) for K in (4, 64)]
        assert kL["gen_ppl"] < k4["gen_ppl"] * 1.1, (k4, kL)
    assert set((tmp_path / f"samples_{rows[0]['schedule']}_K4.txt").read_text().replace("\n", "")) <= ALPHABET
    # and from the command line, offline
    if name == "text-char-diladd":
        r = ladd(
            "sweep",
            str(shipped_checkpoint(name)),
            "--steps",
            "4,64",
            "--out",
            str(tmp_path / "sw"),
            env=offline_env,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        res = list(csv.DictReader(open(tmp_path / "sw" / "results.csv")))
        assert len(res) == 4 and {"gen_ppl", "entropy", "token_kl", "nfe_token"} <= set(res[0])


def metrics(d):
    rows = [json.loads(l) for l in (Path(d) / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("time_s", None)
    return rows


@pytest.mark.parametrize(
    "preset,keys",
    [
        ("text-char-mdlm", ("loss", "nelbo", "masked_ce", "grad_norm")),
        ("text-char-ar", ("loss", "nll", "grad_norm")),
    ],
)
def test_torchrun_text_preset_matches_one_process(preset, keys, offline_env, tmp_path):
    """Two processes (gloo, CPU) with the same global batch give the single-process losses; the data cache is
    built before torchrun, as chapter 12 says (`ladd-nb prepare`)."""
    args = [preset, "train_steps=6", "batch_size=16", "log_every=1", "eval_every=3", "--no-progress"]
    env = offline_env | {"LADD_NB_CACHE": str(tmp_path / "cache2")}
    prep = ladd("prepare", *[a for a in args if not a.startswith("--")], env=env)
    assert prep.returncode == 0, prep.stderr[-2000:]
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
        env=env,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    one = ladd("train", *args, "--out", str(tmp_path / "one"), env=offline_env)
    assert one.returncode == 0, one.stderr[-2000:]
    a, b = metrics(tmp_path / "one"), metrics(tmp_path / "two")
    assert [m["step"] for m in a] == [m["step"] for m in b] == list(range(1, 7))
    for x, y in zip(a, b):
        for k in keys:
            assert y[k] == pytest.approx(x[k], rel=1e-4, abs=1e-6), (x["step"], k)
    assert (
        len((tmp_path / "two" / "eval.jsonl").read_text().splitlines()) == 2
    )  # periodic evaluation ran once per 3 steps, on process 0 only


def test_bpe_on_local_files(tmp_path, monkeypatch):
    "A BPE tokenizer trained on local text files, packed and trained through a text preset."
    monkeypatch.setenv("LADD_NB_CACHE", str(tmp_path / "cache"))
    from ladd_nb.text import cpython_docs_texts
    from ladd_nb.presets import data_of
    from ladd_nb.presets import train_preset, get_config

    for i, t in enumerate(cpython_docs_texts()[:30]):
        (tmp_path / f"doc{i}.txt").write_text(t)
    over = {
        "corpus": f"{tmp_path}/doc*.txt",
        "tokenizer": "bpe",
        "bpe_vocab": 300,
        "length": 32,
        "train_steps": 3,
        "batch_size": 8,
        "eval_every": 0,
    }
    # more tokens than the corpus has frequent pairs: refused, with the number to use (a model bigger
    # than its tokenizer would emit undecodable ids)
    with pytest.raises(ValueError, match=r"yields only \d+ BPE tokens.*set bpe_vocab=\d+"):
        data_of(get_config("text-char-mdlm", over | {"bpe_vocab": 100_000}))
    d = data_of(get_config("text-char-mdlm", over))
    assert (
        d.tokenizer.vocab_size == 300
        and d.train.shape[1] == 32
        and int(d.train.max()) < d.tokenizer.vocab_size
    )
    assert d.info["train_rows"] > 100 and d.info["valid_rows"] > 0
    tr = train_preset("text-char-mdlm", over, out_dir=tmp_path / "run", progress=False, log=lambda *a: None)
    x = tr.model.sample(2, steps=4).x
    assert isinstance(d.tokenizer.decode(x[0]), str)
