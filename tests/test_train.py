"""The shared training loop on a toy task: budget accounting."""

from __future__ import annotations

import torch

from seqrnn import storage
from seqrnn.train import TrainSettings, fit


class ToyTask:
    """Fit y = 2x with one weight; validation reports the squared error as the loss."""

    monitor = ("loss", "min")

    def batches_per_epoch(self) -> int:
        return 5

    def batch(self, epoch, index):
        x = torch.linspace(-1, 1, 8) + 0.1 * index
        return x, 2 * x

    def loss(self, model, batch, carry):
        x, y = batch
        return ((model(x.unsqueeze(1)).squeeze(1) - y) ** 2).mean(), None, len(x)

    def validate(self, model):
        x = torch.linspace(-1, 1, 8)
        return {"loss": float(((model(x.unsqueeze(1)).squeeze(1) - 2 * x) ** 2).mean())}

    def carry_to_tensors(self, carry):
        return {}

    def carry_from_tensors(self, tensors):
        return None


def test_preparation_time_counts_in_elapsed_time_and_the_budget(tmp_path):
    torch.manual_seed(0)
    settings = TrainSettings(epochs=3, lr=0.1, max_minutes=1.0, prepared_s=60.0)  # the budget is already spent
    summary = fit(torch.nn.Linear(1, 1), ToyTask(), settings, tmp_path, torch.device("cpu"))
    assert summary["stopped"] == "budget" and summary["step"] == 1 and summary["elapsed_s"] >= 60.0
    val = [r for r in storage.read_jsonl(tmp_path / storage.METRICS) if r["type"] == "val"]
    assert val[0]["elapsed_s"] >= 60.0


def test_without_a_budget_the_loop_runs_every_epoch_and_learns(tmp_path):
    torch.manual_seed(0)
    summary = fit(torch.nn.Linear(1, 1), ToyTask(), TrainSettings(epochs=20, lr=0.1), tmp_path, torch.device("cpu"))
    assert summary["stopped"] == "done" and summary["step"] == 100 and summary["best"]["loss"] < 1e-2
