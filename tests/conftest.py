"""Shared fixtures: a tiny aclImdb dataset built in tmp_path (directory and .tar.gz), the shared data."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

# (split directory, label directory, id, rating, text): deliberately not in sorted order on disk
TINY_IMDB = [
    ("train", "pos", 10, 9, "A wonderful film.<br /><br />Loved it!"),
    ("train", "pos", 2, 10, "Great, great acting; superb."),
    ("train", "neg", 7, 1, "Awful. Just awful..."),
    ("train", "neg", 11, 3, "Boring plot, wooden actors -- café scenes only."),
    ("train", "neg", 3, 2, "Not good (at all)."),
    ("train", "unsup", 5, 0, "No rating here; the film exists."),
    ("train", "unsup", 1, 0, "Unlabelled review number one."),
    ("test", "pos", 4, 8, "Good fun for the whole family!"),
    ("test", "neg", 9, 4, "Meh. Forgettable."),
]


def write_imdb(root: Path, reviews=TINY_IMDB, extras: bool = True) -> Path:
    """Write an aclImdb/ tree under root (plus the README/urls/vocab files the real one has)."""
    base = root / "aclImdb"
    for split, label, rid, rating, text in reviews:
        d = base / split / label
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{rid}_{rating}.txt").write_text(text, encoding="utf-8")
    if extras:
        (base / "README").write_text("Large Movie Review Dataset\n")
        (base / "imdb.vocab").write_text("the\nand\n")
        (base / "train" / "urls_pos.txt").write_text("http://www.imdb.com/title/tt0453418/usercomments\n")
    return root


def write_tar(src_root: Path, out: Path, fmt=tarfile.GNU_FORMAT, mode: str = "w:gz", prefix: str = "") -> Path:
    """Archive src_root/aclImdb as `prefix + aclImdb` (a long prefix exercises long-name headers)."""
    with tarfile.open(out, mode, format=fmt) as tf:
        tf.add(src_root / "aclImdb", arcname=prefix + "aclImdb")
    return out


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The tests' models are tiny: one thread runs them fastest, and steadily on a busy machine
    (several threads per tiny step spend their time waiting on each other)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory) -> Path:
    """SEQRNN_CACHE points at a fresh folder for the whole session (subprocesses too), so that tests
    never read or write the user's cache (downloads, prepared data)."""
    folder = tmp_path_factory.mktemp("seqrnn-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQRNN_CACHE", str(folder))
        yield folder


@pytest.fixture
def imdb_dir(tmp_path) -> Path:
    """A directory holding aclImdb/ with 9 reviews in every split and label."""
    return write_imdb(tmp_path / "data")


@pytest.fixture
def imdb_tgz(imdb_dir, tmp_path) -> Path:
    return write_tar(imdb_dir, tmp_path / "tiny.tar.gz")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only shared data directory, or skip."""
    env = os.environ.get("SEQRNN_DATA")
    for candidate in ([Path(env)] if env else []) + [Path(__file__).resolve().parents[1] / ".." / "shared" / "data",
                                                     Path("/work/shared/data")]:
        if (candidate / "hamlet_pg2265.txt").exists():
            return candidate.resolve()
    pytest.skip("shared data not available (set SEQRNN_DATA)")


@pytest.fixture
def small_cache(tmp_path, monkeypatch):
    """A private prepared-data cache that caches inputs of any size (also the tiny test data);
    the folder of its entries."""
    from seqrnn import cache

    monkeypatch.setenv("SEQRNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQRNN_NO_CACHE", raising=False)
    monkeypatch.setattr(cache, "MIN_INPUT_BYTES", 0)
    return tmp_path / "cache" / cache.SUBDIR


@pytest.fixture
def seqrnn_cli(capsys):
    """`seqrnn ARGS` run in this process (`cli.main`): a CompletedProcess with the exit status and
    what the command printed, as `run_seqrnn` gives it without starting a process."""
    from seqrnn.cli.main import main

    def run(*args, stdin: str | bytes = b"") -> subprocess.CompletedProcess:
        capsys.readouterr()
        argv = [str(a) for a in args]
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
            try:
                status = main(argv)
            except SystemExit as exc:  # argparse's usage errors and --help
                status = exc.code
        printed = capsys.readouterr()
        return subprocess.CompletedProcess(argv, status, printed.out, printed.err)

    return run


def run_seqrnn(*args, env=None, stdin=None, text=True, **kw) -> subprocess.CompletedProcess:
    """`python -m seqrnn ARGS` in a subprocess (text output unless `text=False`)."""
    return subprocess.run([sys.executable, "-m", "seqrnn", *map(str, args)], capture_output=True, text=text,
                          input=stdin, env={**os.environ, **(env or {})}, timeout=300, **kw)


def write_model_dir(path: Path, task: str) -> Path:
    """A complete (if meaningless) model directory of `task`, for tests of refusals."""
    import torch

    from seqrnn.training.rundir import RunDir

    run = RunDir(path)
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config(task, {"model": {}})
    run.write_vocab({})
    run.save_best({"w": torch.zeros(1)})
    return path


@pytest.fixture(autouse=True)
def processes_only_in_the_slow_tier(request, monkeypatch):
    """The tiers tell the truth: a test that starts a process (a seqrnn command, torchrun, a server)
    must be marked `slow`; one that is not fails here instead of quietly slowing `make test-fast`."""
    if request.node.get_closest_marker("slow") is None:
        def refuse(*args, **kwargs):
            raise AssertionError("this test starts a process: mark it @pytest.mark.slow")

        monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture(scope="session")
def three_class_model(tmp_path_factory):
    """(a small trained three-class classifier, the directory it is saved in): the model the report,
    evaluate and file-prediction tests share."""
    from test_sentiment import TINY, make_three_class

    from seqrnn import TextClassifier

    out = tmp_path_factory.mktemp("three-class") / "model"
    texts, labels = make_three_class(240)
    clf = TextClassifier(preset="default", **{**TINY, "epochs": 3, "seq_len": 40}).fit(texts, labels)
    clf.save(out)
    return clf, out


# the longest tests, started first so that the two workers of `make test` finish together
LONGEST = ("test_page_blocks_run_in_order_as_written", "test_kill_9_at_random_moments", "test_notebook_runs_top_to_bottom",
           "test_a_resumed_two_rank_run", "test_ctrl_c_mid_epoch", "test_concurrent_requests_never_fail")


def pytest_collection_modifyitems(config, items):
    """The longest tests first, then the others that start processes (marked slow): `make test` runs
    the suite on two workers (pytest-xdist), and starting the long ones first lets both finish
    together. The order within each part stays as collected."""
    items.sort(key=lambda item: (not item.name.startswith(LONGEST), item.get_closest_marker("slow") is None))
