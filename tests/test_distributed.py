"""Several processes under torchrun (2 CPU ranks, gloo): the same model as one process with the same
global batch, resume across invocations, only rank 0 writes, a lost rank reported in one line."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from conftest import run_seqrnn

from seqrnn.training import distributed
from seqrnn.training.distributed import Ranks
from seqrnn.training.rundir import RunDir, load_tensors

TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\n") * 20
TINY = ["--hidden-size", 16, "--embed-size", 8, "--batch-size", 4, "--num-steps", 10, "--dropout", 0,
        "--threads", 1, "--lr", 0.01, "--checkpoint-every", 0]


@contextlib.contextmanager
def one_run_at_a_time():
    """Hold a lock that every torchrun of the test session takes: `--standalone` runs started side
    by side by the suite's workers could each pick the same free port for their ranks."""
    import fcntl

    with open(Path(tempfile.gettempdir()) / "seqrnn-tests-torchrun.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def torchrun(*args, nproc: int = 2) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node=N -m seqrnn ARGS`."""
    with one_run_at_a_time():
        return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                               f"--nproc_per_node={nproc}", "-m", "seqrnn", *map(str, args)], capture_output=True,
                              text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def _weights(out) -> dict[str, torch.Tensor]:
    return load_tensors(out / "checkpoint" / "model.safetensors")[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.mark.slow
def test_two_ranks_give_the_model_of_one_process_with_the_same_global_batch(corpus, tmp_path):
    single = run_seqrnn("charlm", "train", "--text", corpus, "--out", tmp_path / "one", "--epochs", 2, *TINY)
    assert single.returncode == 0, single.stderr
    both = torchrun("charlm", "train", "--text", corpus, "--out", tmp_path / "two", "--epochs", 2, *TINY)
    assert both.returncode == 0, both.stderr
    assert both.stdout.count("best validation loss") == 1  # only rank 0 reports
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert one.keys() == two.keys()
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-5), name
    steps = [r["step"] for r in RunDir(tmp_path / "two").metrics() if r["type"] == "train"]
    assert steps == sorted(set(steps))  # one writer: every record once


@pytest.mark.slow
def test_a_resumed_two_rank_run_equals_an_uninterrupted_one(corpus, tmp_path):
    whole = torchrun("charlm", "train", "--text", corpus, "--out", tmp_path / "whole", "--epochs", 2, *TINY)
    assert whole.returncode == 0, whole.stderr
    cut = torchrun("charlm", "train", "--text", corpus, "--out", tmp_path / "cut", "--epochs", 2,
                   "--max-minutes", 1e-9, *TINY)
    assert cut.returncode == 0 and "(budget)" in cut.stdout, cut.stderr
    resumed = torchrun("charlm", "train", "--text", corpus, "--out", tmp_path / "cut", "--epochs", 2, "--resume",
                       *TINY)
    assert resumed.returncode == 0, resumed.stderr
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert all(torch.equal(a[name], b[name]) for name in a)


@pytest.mark.slow
def test_sentiment_trains_under_two_ranks(imdb_dir, tmp_path):
    result = torchrun("sentiment", "train", "--data", imdb_dir, "--out", tmp_path / "m", "--epochs", 1,
                      "--batch-size", 2, "--hidden-size", 4, "--embed-size", 4, "--seq-len", 10, "--threads", 1)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m" / "model.safetensors").is_file()


@pytest.mark.slow
def test_a_batch_that_does_not_split_evenly_still_gives_the_model_of_one_process(corpus, tmp_path):
    odd = ["--batch-size", 3, "--epochs", 1]  # the ranks take 1 and 2 streams, weighted by their share
    single = run_seqrnn("charlm", "train", "--text", corpus, "--out", tmp_path / "one", *TINY, *odd)
    both = torchrun("charlm", "train", "--text", corpus, "--out", tmp_path / "two", *TINY, *odd)
    assert single.returncode == 0 and both.returncode == 0, single.stderr + both.stderr
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert all(torch.allclose(one[name], two[name], atol=1e-5) for name in one)


def test_each_rank_takes_its_share_of_the_rows():
    batch = (torch.arange(8).reshape(4, 2), None, torch.arange(4))
    assert distributed.batch_rows(batch) == 4
    first, none, labels = distributed.take_rows(batch, *distributed.share(4, Ranks(rank=1, world_size=2)))
    assert first.tolist() == [[4, 5], [6, 7]] and none is None and labels.tolist() == [2, 3]
    shares = [distributed.share(5, Ranks(rank=r, world_size=3)) for r in range(3)]
    assert shares == [(0, 1), (1, 3), (3, 5)]  # contiguous, every row once
    assert distributed.share(1, Ranks(rank=0, world_size=2)) == (0, 0)  # an empty share


GLOO_LOST = ("[../third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:41234: "
             "Connection reset by peer")


def test_a_collective_failing_for_a_lost_rank_is_one_line_naming_it(monkeypatch):
    assert distributed.is_peer_failure(RuntimeError(GLOO_LOST), Ranks(rank=0, world_size=2))
    assert not distributed.is_peer_failure(RuntimeError(GLOO_LOST), Ranks())  # one process: not a lost rank
    assert not distributed.is_peer_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"),
                                           Ranks(rank=0, world_size=2))

    def lost(*args, **kwargs):
        raise RuntimeError(GLOO_LOST)

    monkeypatch.setattr(distributed.dist, "all_reduce", lost)
    with pytest.raises(distributed.PeerLost) as info:
        distributed.any_of([True], Ranks(rank=0, world_size=2))
    assert str(info.value) == ("rank 0: rank 1, the other process of the run, was lost (it ended or its connection "
                               "broke)") and info.value.exit_status == 1
    with pytest.raises(distributed.PeerLost, match="^rank 2: another process of the run was lost at step 7 "):
        raise distributed.PeerLost(Ranks(rank=2, world_size=4), " at step 7", "training stopped")
    monkeypatch.setattr(distributed.dist, "all_reduce", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("bad")))
    with pytest.raises(RuntimeError, match="^bad$"):  # any other failure is left as it is
        distributed.mean(torch.zeros(1), Ranks(rank=0, world_size=2))


def _worker_pids(parent: int) -> dict[int, int]:
    """{rank: pid} of the processes torchrun (`parent`) started, from /proc."""
    from pathlib import Path

    ranks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            for variable in (entry / "environ").read_bytes().split(b"\0"):
                if variable.startswith(b"RANK="):
                    ranks[int(variable[5:])] = int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return ranks


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds torchrun's workers in /proc (Linux)")
def test_a_killed_rank_stops_the_other_with_one_line_saying_how_to_continue(corpus, tmp_path):
    out = tmp_path / "run"
    longer = tmp_path / "longer.txt"
    longer.write_text(corpus.read_text(encoding="utf-8") * 10, encoding="utf-8")
    args = ["charlm", "train", "--text", longer, "--out", out, "--epochs", 500, "--max-minutes", 3, *TINY]
    with one_run_at_a_time():
        stderr, returncode = _kill_rank_1(args, out)
    assert returncode != 0
    # the one line is the last: torchrun may also stop rank 0 with SIGTERM once it sees rank 1 gone,
    # and rank 0 says so as it does for any SIGTERM
    ours = [line for line in stderr.splitlines() if line.startswith("seqrnn:")]
    assert ours and all(line.startswith("seqrnn: SIGTERM: stopping after this step") for line in ours[:-1]), stderr
    assert re.fullmatch(r"seqrnn: error: rank 0: rank 1, the other process of the run, was lost at step \d+ \(it "
                        r"ended or its connection broke\); training stopped, continue with --resume from the last "
                        rf"checkpoint in {re.escape(str(out / 'checkpoint'))} \(step \d+\)", ours[-1]), ours[-1]
    step = int(re.search(r"\(step (\d+)\)", ours[-1]).group(1))
    assert RunDir(out).load_checkpoint()[1]["state"]["step"] == step


def _kill_rank_1(args: list, out: Path) -> tuple[str, int]:
    """Start the run under torchrun, SIGKILL rank 1 once the first checkpoint is written: (stderr,
    exit status)."""
    import signal
    import time

    run = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                            "-m", "seqrnn", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 240
        while not (out / "checkpoint").is_dir() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _worker_pids(run.pid)
        assert set(workers) == {0, 1}, workers
        os.kill(workers[1], signal.SIGKILL)
        _, stderr = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    return stderr, run.returncode
