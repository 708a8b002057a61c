"""Issue 18, the text corpus path: a bad local corpus file fails with one clear error before `datasets` is
called, a local corpus never touches the network (whatever the HF_* variables say), and a held-out part
shorter than one row is named as such."""

import gzip, hashlib, io, json, os, subprocess, sys
from pathlib import Path
import pytest
import torch
from ladd_nb.core import make_generator

BIN = Path(sys.executable).parent
LADD = str(BIN / "ladd-nb")

# Records every attempt to reach the network in $NET_LOG (the code under test may swallow the error, as
# datasets' usage counter does), then refuses it.
RECORD_NETWORK = """
import os, socket
def _record(what):
    with open(os.environ["NET_LOG"], "a") as f:
        f.write(repr(what) + "\\n")
    raise OSError(f"network access attempted: {what!r}")
def _connect(self, address):
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)
    _record(("connect", address))
_real_connect = socket.socket.connect
socket.socket.connect = _connect
socket.socket.connect_ex = _connect
socket.create_connection = lambda address, *a, **k: _record(("create_connection", address))
socket.getaddrinfo = lambda host, *a, **k: _record(("getaddrinfo", host))
"""


def corpus_text(n: int = 40) -> str:
    "Paragraphs of lower-case words (already normalised: one character is one token of the char tokenizer)."
    return "\n\n".join(f"paragraph {w} of the little corpus about things" for w in _words(n))


def _words(n: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [letters[i % 26] + letters[(i // 26) % 26] + "x" for i in range(n)]


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def bad_files(d: Path, seed: int) -> dict:
    "name -> (file, what the error must say): files that are no text corpus."
    g = make_generator(seed)
    rand = bytes(torch.randint(0, 256, (4096,), generator=g, dtype=torch.uint8).tolist())
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(3)}, buf)
    files = {
        "empty.txt": (b"", "is empty"),
        "blank.txt": (b"  \n\n\t \r\n\n   ", "only whitespace"),
        "random.bin": (rand, "not UTF-8 text"),
        "corpus.txt.gz": (gzip.compress(corpus_text().encode()), "not UTF-8 text"),
        "model.pt": (buf.getvalue(), "not UTF-8 text"),
        "utf16.txt": (corpus_text().encode("utf-16"), "not UTF-8 text"),
    }
    for name, (data, _) in files.items():
        (d / name).write_bytes(data)
    return {name: (d / name, said) for name, (_, said) in files.items()}


@pytest.fixture
def no_datasets(monkeypatch):
    "Any call of `datasets.load_dataset` fails the test: the checks must come first."
    import datasets

    def called(*a, **k):
        raise AssertionError("datasets.load_dataset was called")

    monkeypatch.setattr(datasets, "load_dataset", called)


def test_bad_corpus_files_refused_before_datasets(tmp_path, seed, no_datasets):
    from ladd_nb.text import load_corpus

    for name, (f, said) in bad_files(tmp_path, seed).items():
        before = sha(f)
        for streaming in (False, True):
            with pytest.raises(ValueError, match=said) as e:
                load_corpus(str(f), streaming=streaming)
            msg = str(e.value)
            assert repr(str(f)) in msg and "\n" not in msg, msg  # names the file, one line
            assert ("UTF-8" in msg or "text" in msg) and ("give" in msg or "put" in msg), msg  # what to fix
        assert sha(f) == before  # the file is only read
    # one bad file among good ones (a glob) is named
    (tmp_path / "good.txt").write_text(corpus_text())
    with pytest.raises(ValueError, match=r"model\.pt.*not UTF-8 text"):
        load_corpus(f"{tmp_path}/good.txt,{tmp_path}/model.pt")


def test_a_glob_that_matches_nothing(tmp_path, no_datasets):
    from ladd_nb.text import load_corpus

    with pytest.raises(FileNotFoundError, match="no file"):
        load_corpus(f"{tmp_path}/*.txt")


def test_utf8_character_cut_at_the_block_end_is_text(tmp_path):
    "Only the first block is read: a multi-byte character that it cuts in two is not an error."
    from ladd_nb.text import check_text_file

    f = tmp_path / "accents.txt"
    data = ("é" * 50 + "\n\nthe end\n").encode()  # 2 bytes per é
    f.write_bytes(data)
    for head in (3, 5, 7, 64, 2**16):  # odd sizes cut an é in two
        assert check_text_file(str(f), head=head) == str(f)
    f.write_bytes(data[:-10] + b"\xc3")  # but a file that ends inside a character is not UTF-8
    with pytest.raises(ValueError, match="not UTF-8 text"):
        check_text_file(str(f))
    f.write_bytes(b"text \xff\xfe here")  # invalid inside the block, whatever its size
    for head in (8, 2**16):
        with pytest.raises(ValueError, match="invalid UTF-8 near byte 5"):
            check_text_file(str(f), head=head)


def one_line_error(r) -> str:
    lines = r.stderr.strip("\n").split("\n")
    assert len(lines) == 1, r.stderr[-3000:]
    return lines[0]


def test_bad_corpus_from_the_command_line(tmp_path, seed):
    "`ladd-nb train` on an empty or binary corpus: exit 2, one line on stderr that names the file."
    env = os.environ | {"OMP_NUM_THREADS": "1", "LADD_NB_CACHE": str(tmp_path / "cache")}
    files = bad_files(tmp_path, seed)
    for name in ("empty.txt", "corpus.txt.gz"):
        f, said = files[name]
        before = sha(f)
        args = ["train", "text-char-mdlm", f"corpus={f}", "train_steps=1", "batch_size=2", "eval_every=0"]
        r = subprocess.run(
            [LADD, *args, "--out", str(tmp_path / f"run-{name}"), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert r.returncode == 2, r.stderr[-3000:]
        line = one_line_error(r)
        assert line.startswith("ladd-nb train: error: ") and said in line and str(f) in line, line
        assert sha(f) == before and not list((tmp_path / f"run-{name}").glob("ckpt_*.pt"))


@pytest.fixture
def no_hf_env(tmp_path):
    """The environment of a process with every HF_* variable removed (so no offline switch: the code must set
    it itself), its own caches, and every network attempt recorded in $NET_LOG and refused."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(RECORD_NETWORK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k != "TRANSFORMERS_OFFLINE"}
    env |= {"PYTHONPATH": str(tmp_path / "site"), "NET_LOG": str(tmp_path / "net.log")}
    env |= {"OMP_NUM_THREADS": "1", "LADD_NB_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf")}
    return env


def net_log(env) -> list[str]:
    p = Path(env["NET_LOG"])
    return p.read_text().splitlines() if p.exists() else []


def test_network_recorder_records(no_hf_env):
    "The recorder itself: an attempt that the code swallows is still recorded (so the test below can fail)."
    code = "import socket\ntry: socket.create_connection(('example.org', 443))\nexcept OSError: pass"
    r = subprocess.run(
        [sys.executable, "-c", code], env=no_hf_env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert net_log(no_hf_env) == ["('create_connection', ('example.org', 443))"]


LOAD_LOCAL = """
import datasets.config, json, sys
from huggingface_hub import constants
from ladd_nb.text import load_corpus
f = sys.argv[1]
docs = load_corpus(f)["text"]
streamed = [r["text"] for r in load_corpus(f, streaming=True)]
switches = [datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE, constants.HF_HUB_OFFLINE]
print(json.dumps(dict(docs=list(docs), streamed=streamed, switches=switches)))
"""


def test_local_corpus_never_touches_the_network(tmp_path, no_hf_env):
    """With no HF_* offline variable set, loading a local corpus (also streamed) and packing it through a text
    preset makes no network attempt, and the offline switches are back off afterwards (a later hub load with
    allow_network=True still works)."""
    f = tmp_path / "corpus.txt"
    f.write_text(corpus_text())
    run = lambda *a: subprocess.run(a, env=no_hf_env, capture_output=True, text=True, timeout=600)
    r = run(sys.executable, "-c", LOAD_LOCAL, str(f))
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().split("\n")[-1])
    assert out["docs"] == out["streamed"] == corpus_text().split("\n\n")
    assert out["switches"] == [False, False, False]  # restored: the environment asked for no offline mode
    r = run(LADD, "prepare", "text-char-mdlm", f"corpus={f}", "length=16", "valid_frac=0.5")
    assert r.returncode == 0 and "train_rows" in r.stdout, r.stderr[-3000:]
    assert net_log(no_hf_env) == []


def char_data(tmp_path, text: str, **over):
    "The packed data of text-char-mdlm on one local file holding `text`."
    from ladd_nb.presets import data_of, get_config

    f = tmp_path / f"corpus{len(list(tmp_path.glob('corpus*')))}.txt"
    f.write_text(text)
    return data_of(get_config("text-char-mdlm", {"corpus": str(f)} | over))


def test_too_short_corpus_or_held_out_part(tmp_path, monkeypatch):
    "The whole corpus shorter than a row, against only its held-out part: two messages, with the numbers."
    from ladd_nb.text import is_valid_doc

    monkeypatch.setenv("LADD_NB_CACHE", str(tmp_path / "cache"))
    tiny = "a tiny corpus"
    assert not is_valid_doc(tiny, 0.05, 0)  # in the training part (the split is a hash of the text)
    with pytest.raises(ValueError) as e:
        char_data(tmp_path, tiny, length=64)
    msg = str(e.value)
    assert "is too short" in msg and f"{len(tiny)} tokens" in msg and "held-out" not in msg, msg
    assert "length=64" in msg and "more text" in msg and "\n" not in msg, msg
    # many training paragraphs, exactly one held-out paragraph: the held-out part alone is shorter than a row
    paras = corpus_text(200).split("\n\n")
    held = [p for p in paras if is_valid_doc(p, 0.05, 0)]
    train = [p for p in paras if not is_valid_doc(p, 0.05, 0)][:40]
    assert held and len(held[0]) < 64 and sum(map(len, train)) > 10 * 64  # what the case needs
    with pytest.raises(ValueError) as e:
        char_data(tmp_path, "\n\n".join(train + held[:1]), length=64)
    msg = str(e.value)
    assert "held-out part" in msg and f"{len(held[0])} tokens" in msg and "\n" not in msg, msg
    for fix in ("more text", "larger valid_frac", "shorter length", "length=64", "valid_frac=0.05"):
        assert fix in msg, msg
    # from the command line: exit 2 and that message as the one line on stderr (no progress bars before it)
    f = sorted(tmp_path.glob("corpus*.txt"))[-1]
    env = os.environ | {"OMP_NUM_THREADS": "1", "LADD_NB_CACHE": str(tmp_path / "cache")}
    r = subprocess.run(
        [LADD, "prepare", "text-char-mdlm", f"corpus={f}"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert r.returncode == 2 and one_line_error(r) == f"ladd-nb prepare: error: {msg}", r.stderr[-3000:]
    # and with a shorter row, the same corpus packs: one held-out row
    d = char_data(tmp_path, "\n\n".join(train + held[:1]), length=len(held[0]))
    assert d.info["valid_rows"] == 1 and d.info["train_rows"] > 10
