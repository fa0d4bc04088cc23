"""The character language model: truncated BPTT, clipping, sampling, persistence, CLI and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import run_seqrnn as run_cli
from conftest import write_model_dir

from seqrnn.config import TrainingConfig
from seqrnn.errors import SeqrnnError
from seqrnn.nn.networks import CharRNN
from seqrnn.tasks.charlm import CharLanguageModel, char_metrics
from seqrnn.tasks.streams import StreamTask, stream_loss
from seqrnn.training.rundir import RunDir, load_tensors
from seqrnn.training.trainer import Trainer

TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n") * 12
TINY = dict(hidden_size=32, embed_size=8, num_layers=1, batch_size=4, num_steps=20, epochs=2, dropout=0.0,
            threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained for real into a model directory, shared by the tests below."""
    out = tmp_path_factory.mktemp("charlm") / "model"
    lm = CharLanguageModel(preset="default", lr=1e-2, **TINY).fit(TEXT, out_dir=out)
    return lm, out


def test_training_lowers_validation_loss_and_writes_the_model_directory(trained):
    lm, out = trained
    records = RunDir(out).metrics()
    val = [r["loss"] for r in records if r["type"] == "val"]
    assert len(val) == 2 and val[-1] < np.log(len(lm.vocab_))  # better than uniform guessing
    for name in ("config.json", "vocab.json", "model.safetensors", "checkpoint/model.safetensors",
                 "checkpoint/trainer.pt", "curves.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text())["task"] == "charlm"


def _task_and_model(cell="lstm"):
    torch.manual_seed(0)
    vocab_size = 11
    ids = np.random.default_rng(0).integers(0, vocab_size, 4 * 30 + 1)
    task = StreamTask(ids, ids[:50], batch_size=4, num_steps=10, device=torch.device("cpu"), metrics=char_metrics)
    model = CharRNN(vocab_size, embed_size=0, hidden_size=16, cell=cell, dropout=0.0)
    with torch.no_grad():  # larger weights than at initialisation, so the state visibly matters
        for p in model.parameters():
            p.mul_(4)
    return task, model


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_state_is_carried_across_windows(cell):
    """The loss of window 2 given window 1's state equals reading both windows in one pass."""
    task, model = _task_and_model(cell)
    (x1, y1), (x2, y2) = task.batch(0, 0), task.batch(0, 1)
    _, carry, _ = task.loss(model, (x1, y1), None)
    carried, _, _ = task.loss(model, (x2, y2), carry)
    logits, _ = model(torch.cat([x1, x2], dim=1))
    joint = torch.nn.functional.cross_entropy(logits[:, 10:].flatten(0, 1), y2.flatten())
    fresh, _, _ = task.loss(model, (x2, y2), None)
    assert torch.allclose(carried, joint, atol=1e-6)
    assert not torch.allclose(fresh, joint, atol=1e-4)  # a reset state would give this instead
    assert all(not t.requires_grad for t in (carry if isinstance(carry, tuple) else (carry,)))  # truncated


def test_training_loop_carries_state_within_an_epoch_and_resets_between(tmp_path):
    task, model = _task_and_model()
    seen = []
    original = task.loss

    def spy(model, batch, carry):
        seen.append(carry is not None)
        return original(model, batch, carry)

    task.loss = spy
    Trainer(model, task, TrainingConfig(epochs=2), RunDir(tmp_path), torch.device("cpu")).fit()
    assert seen == [False, True, True] * 2


@pytest.mark.parametrize("clip", [0.05, 0.0])
def test_gradients_are_clipped_to_the_global_norm(tmp_path, monkeypatch, clip):
    task, model = _task_and_model()
    norms = []
    step = torch.optim.AdamW.step

    def recording_step(self, *args, **kwargs):
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    Trainer(model, task, TrainingConfig(epochs=1, grad_clip=clip), RunDir(tmp_path), torch.device("cpu")).fit()
    if clip:
        assert max(norms) <= clip * (1 + 1e-4)
    else:
        assert max(norms) > 0.05  # so the clipped case above is not vacuous


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    CharLanguageModel(lr=1e-2, **TINY).fit(TEXT, out_dir=tmp_path / "a")
    stopped = CharLanguageModel(lr=1e-2, max_minutes=1e-9, **TINY).fit(TEXT, out_dir=tmp_path / "b")
    assert stopped.summary_["stopped"] == "budget" and stopped.summary_["step"] == 1
    CharLanguageModel(lr=1e-2, **TINY).fit(TEXT, out_dir=tmp_path / "b", resume=True)
    a, _ = load_tensors(tmp_path / "a" / "checkpoint" / "model.safetensors")
    b, _ = load_tensors(tmp_path / "b" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sample_starts_with_the_start_text_and_is_seeded(trained):
    lm, _ = trained
    a = lm.sample(80, "To be", seed=7)
    assert a.startswith("To be") and len(a) == 85
    assert a == lm.sample(80, "To be", seed=7)
    many = lm.sample(40, "The", seed=7, num_samples=3, top_p=1.0)
    assert len(many) == 3 and all(s.startswith("The") and len(s) == 43 for s in many)
    greedy = lm.sample(30, "The", temperature=0, seed=1)
    assert greedy == lm.sample(30, "The", temperature=0, seed=2)


@pytest.mark.slow
def test_save_load_in_a_fresh_process_gives_identical_samples(trained, tmp_path):
    lm, out = trained
    expected = lm.sample(60, "To be", seed=11, top_n=5)
    args = ["charlm", "sample", "--model", out, "--length", 60, "--start", "To be", "--seed", 11]
    first = run_cli(*args, env={"PYTHONHASHSEED": "1"})
    second = run_cli(*args, env={"PYTHONHASHSEED": "2"})
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout == expected + "\n"
    streamed = run_cli(*args, "--stream")
    assert streamed.stdout == expected + "\n"
    lm.save(tmp_path / "copy")
    assert CharLanguageModel.load(tmp_path / "copy").sample(60, "To be", seed=11) == expected


def test_evaluate_counts_unknown_characters(trained, tmp_path, seqrnn_cli):
    lm, out = trained
    held_out = tmp_path / "held.txt"
    held_out.write_text("To be, or not to be§ that is the question§", encoding="utf-8")
    result = seqrnn_cli("charlm", "evaluate", "--model", out, "--text", held_out, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == {"loss", "bits_per_char", "n_chars", "n_unknown"}
    assert report["n_unknown"] == 2 and report["n_chars"] == len("To be, or not to be that is the question") - 1
    assert report["bits_per_char"] == pytest.approx(report["loss"] / np.log(2))
    assert report == pytest.approx(lm.evaluate(held_out.read_text(encoding="utf-8")))


def test_stream_loss_predicts_every_character_once():
    torch.manual_seed(0)
    model = CharRNN(7, hidden_size=8, dropout=0.0).eval()
    ids = np.random.default_rng(0).integers(0, 7, 5003)
    with torch.no_grad():
        loss, n = stream_loss(model, ids, torch.device("cpu"), rows=1, window=10_000)
        logits, _ = model(torch.as_tensor(ids[None, :-1]))
        full = torch.nn.functional.cross_entropy(logits[0], torch.as_tensor(ids[1:])).item()
        split_loss, split_n = stream_loss(model, ids, torch.device("cpu"), rows=3, window=100)
    assert n == split_n == 5002 and loss == pytest.approx(full, rel=1e-5)
    assert split_loss == pytest.approx(full, rel=0.02)  # rows start cold: close, not equal


@pytest.mark.parametrize("flags,message", [
    (["--length", "0"], "length must be"),
    (["--temperature", "-1"], "temperature must be"),
    (["--temperature", "nan"], "temperature must be"),
    (["--top-n", "-1"], "--top-k: must be 0 (no cut) or more"),
    (["--seed", "x"], "--seed: expected a whole number or 'random'"),
    (["--top-p", "0"], "top_p must be"),
    (["--top-p", "1.5"], "top_p must be"),
    (["--start", "To be¤"], "never saw"),
])
def test_bad_sampling_options_give_one_line_errors(trained, flags, message, seqrnn_cli):
    _, out = trained
    result = seqrnn_cli("charlm", "sample", "--model", out, *flags)
    assert result.returncode == 2
    assert result.stderr.startswith("seqrnn: error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_unknown_start_characters_can_be_dropped_and_are_named(trained, seqrnn_cli):
    _, out = trained
    result = seqrnn_cli("charlm", "sample", "--model", out, "--start", "To be¤", "--ignore-unknown", "--length", 5)
    assert result.returncode == 0 and result.stdout.startswith("To be")
    assert "dropped from the start text 1 character(s) the model never saw: '¤'" in result.stderr


def test_top_n_above_the_alphabet_is_clamped_with_a_note(trained, seqrnn_cli):
    _, out = trained
    result = seqrnn_cli("charlm", "sample", "--model", out, "--top-n", 1000, "--length", 5)
    assert result.returncode == 0 and "note:" in result.stderr


@pytest.mark.parametrize("content,flags,message", [
    ("", [], "empty"),
    ("short text", [], "--batch-size"),
])
def test_bad_corpus_gives_one_line_error_and_writes_nothing(tmp_path, content, flags, message, seqrnn_cli):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    result = seqrnn_cli("charlm", "train", "--text", corpus, "--out", out, *flags)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("seqrnn: error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_sentiment_model_directory_is_refused(tmp_path, seqrnn_cli):
    write_model_dir(tmp_path / "sent", "sentiment")
    result = seqrnn_cli("charlm", "sample", "--model", tmp_path / "sent")
    assert result.returncode == 2 and "sentiment model, not a charlm model" in result.stderr


def test_cli_training_on_a_file(tmp_path, seqrnn_cli):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "cli"
    result = seqrnn_cli("charlm", "train", "--text", corpus, "--out", out, "--epochs", 1, "--hidden-size", 16,
                     "--batch-size", 4, "--num-steps", 20, "--threads", 1)
    assert result.returncode == 0, result.stderr
    assert "best validation loss" in result.stdout and (out / "model.safetensors").is_file()
    again = seqrnn_cli("charlm", "train", "--text", corpus, "--out", out, "--epochs", 1)
    assert again.returncode == 2 and "--resume" in again.stderr


def _long_run(tmp_path, name, *extra):
    """A tiny model on a longer text: about a second per epoch, so a signal lands mid-run."""
    corpus = tmp_path / "long.txt"
    corpus.write_text(TEXT * 10, encoding="utf-8")
    return ["charlm", "train", "--text", corpus, "--out", tmp_path / name, "--hidden-size", 16, "--embed-size", 8,
            "--batch-size", 4, "--num-steps", 20, "--epochs", 3, "--dropout", 0.2, "--threads", 1, *extra]


@pytest.mark.slow
def test_ctrl_c_mid_epoch_writes_the_checkpoint_prints_the_resume_command_and_resume_is_exact(tmp_path):
    import signal
    import time

    whole = run_cli(*_long_run(tmp_path, "whole"))
    assert whole.returncode == 0, whole.stderr
    args = [sys.executable, "-m", "seqrnn", *map(str, _long_run(tmp_path, "cut"))]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "cut" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted by SIGINT at step" in err and "--resume" in err.splitlines()[-1]
    _, saved = RunDir(tmp_path / "cut").load_checkpoint()
    assert 0 < saved["state"]["index"]  # mid-epoch
    resumed = run_cli(*_long_run(tmp_path, "cut"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = load_tensors(tmp_path / "whole" / "checkpoint" / "model.safetensors")[0]
    b = load_tensors(tmp_path / "cut" / "checkpoint" / "model.safetensors")[0]
    assert all(torch.equal(a[k], b[k]) for k in a)


def _checkpoint_time(out) -> int | None:
    try:
        return (out / "checkpoint" / "trainer.pt").stat().st_mtime_ns
    except OSError:
        return None


@pytest.mark.slow
def test_kill_9_at_random_moments_always_leaves_a_loadable_directory(tmp_path):
    import random
    import signal
    import time

    rng = random.Random(0)
    out = tmp_path / "killed"
    for attempt in range(4):  # each kill lands at a random moment of a run writing a checkpoint every step
        resume = ["--resume"] if RunDir(out).has_checkpoint() else []
        extra = ["--checkpoint-every", 1e-6, *resume]  # a checkpoint after every step: kills land in writes
        process = subprocess.Popen([sys.executable, "-m", "seqrnn", *map(str, _long_run(tmp_path, "killed", *extra))],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # kill while it trains and writes checkpoints, however slowly a busy machine starts it: once it
        # has written a new checkpoint, at a random moment within the next second and a half
        started, before = time.monotonic(), _checkpoint_time(out)
        while _checkpoint_time(out) == before and process.poll() is None and time.monotonic() - started < 120:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if RunDir(out).has_checkpoint():
            weights, state = RunDir(out).load_checkpoint()
            assert state["state"]["step"] >= 1 and weights
        if (out / "model.safetensors").exists():
            CharLanguageModel.load(out).sample(5, "To", seed=1)
    assert RunDir(out).has_checkpoint()


def test_resume_refuses_a_changed_setting(tmp_path):
    CharLanguageModel(lr=1e-2, max_minutes=1e-9, **TINY).fit(TEXT, out_dir=tmp_path / "run")
    with pytest.raises(SeqrnnError, match="cannot resume with hidden_size=64: .* started with hidden_size=32"):
        CharLanguageModel(**{**TINY, "hidden_size": 64}).fit(TEXT, out_dir=tmp_path / "run", resume=True)
    CharLanguageModel(lr=1e-2, **{**TINY, "epochs": 3}).fit(TEXT, out_dir=tmp_path / "run", resume=True)


@pytest.mark.parametrize("setup", ["file", "under_a_file"])
def test_an_out_that_cannot_be_a_directory_is_one_line(tmp_path, setup, seqrnn_cli):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker if setup == "file" else blocker / "model"
    result = seqrnn_cli("charlm", "train", "--text", corpus, "--out", out, "--epochs", 1)
    assert result.returncode == 2 and result.stderr.startswith("seqrnn: error:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "blocker" in result.stderr


def test_evaluating_nothing_is_an_error_and_a_mismatched_vocabulary_is_refused(trained, tmp_path):
    lm, out = trained
    with pytest.raises(SeqrnnError, match="nothing to evaluate"):
        lm.evaluate("T")
    copy = tmp_path / "copy"
    lm.save(copy)
    vocab = json.loads((copy / "vocab.json").read_text())
    vocab["chars"] = vocab["chars"][:-1]
    (copy / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(SeqrnnError, match="weights do not match config.json and vocab.json"):
        CharLanguageModel.load(copy)


def test_model_files_get_the_umask_permissions(trained):
    _, out = trained
    for name in ("config.json", "vocab.json", "model.safetensors", "checkpoint/trainer.pt"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~_umask(), name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_sampling_defaults_a_documented_seed_and_top_n_zero_is_no_cut(trained, seqrnn_cli):
    from seqrnn.nn.sampling import DEFAULT_SEED

    lm, out = trained
    assert DEFAULT_SEED == 123 and lm.sample(60, "To be") == lm.sample(60, "To be", seed=123)
    uncut = lm.sample(60, "To be", top_n=0, seed=4)
    assert uncut == lm.sample(60, "To be", top_n=len(lm.vocab_), seed=4) != lm.sample(60, "To be", seed=4)
    default = seqrnn_cli("charlm", "sample", "--model", out, "--length", 60, "--start", "To be")
    assert default.returncode == 0 and default.stdout == lm.sample(60, "To be") + "\n", default.stderr
    result = seqrnn_cli("charlm", "sample", "--model", out, "--length", 60, "--start", "To be", "--seed", 4,
                     "--top-n", "none", "--device", "cpu", "--threads", 1)
    assert result.returncode == 0 and result.stdout == uncut + "\n", result.stderr
    from seqrnn.cli.main import build_parser

    parse = build_parser().parse_args
    assert [parse(["charlm", "sample", "--model", "m", "--top-n", word]).top_n for word in ("0", "none", "all", "3")] \
        == [0, 0, 0, 3]
    fresh = {seqrnn_cli("charlm", "sample", "--model", out, "--length", 60, "--seed", "random").stdout for _ in range(2)}
    assert len(fresh) == 2


def test_charlm_evaluate_runs_where_asked(trained, tmp_path, seqrnn_cli):
    lm, out = trained
    held_out = tmp_path / "held.txt"
    held_out.write_text(TEXT[:3000], encoding="utf-8")
    result = seqrnn_cli("charlm", "evaluate", "--model", out, "--text", held_out, "--json", "--device", "cpu",
                     "--threads", 1, "--batch-size", 3)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == pytest.approx(lm.set_params(eval_batch_size=3).evaluate(TEXT[:3000]))
    lm.set_params(eval_batch_size=None)
    result = seqrnn_cli("charlm", "sample", "--model", out, "--length", 5, "--device", "cuda")
    assert result.returncode == 2 and result.stderr.startswith("seqrnn: error: device cuda:") or \
        (result.returncode == 0 and "sampling steps the network in NumPy on the CPU" in result.stderr)
