"""The shared training loop on a toy task: budget accounting."""

from __future__ import annotations

import torch

from seqrnn.config import TrainingConfig
from seqrnn.rundir import RunDir
from seqrnn.train import Trainer


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


def test_preparation_time_counts_in_elapsed_time_and_the_budget(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), TrainingConfig(epochs=3, lr=0.1), RunDir(tmp_path),
                      torch.device("cpu"), max_minutes=1.0, prepared_s=60.0)  # the budget is already spent
    summary = trainer.fit()
    assert summary["stopped"] == "budget" and summary["step"] == 1 and summary["elapsed_s"] >= 60.0
    val = [r for r in RunDir(tmp_path).metrics() if r["type"] == "val"]
    assert val[0]["elapsed_s"] >= 60.0


def test_without_a_budget_the_loop_runs_every_epoch_and_learns(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(torch.nn.Linear(1, 1), ToyTask(), TrainingConfig(epochs=20, lr=0.1, grad_clip=0.0),
                      RunDir(tmp_path), torch.device("cpu"))
    summary = trainer.fit()
    assert summary["stopped"] == "done" and summary["step"] == 100 and summary["best"]["loss"] < 1e-2


def test_epoch_means_the_same_in_train_and_validation_records(tmp_path):
    config = TrainingConfig(epochs=2, lr=0.1, eval_every=3)
    Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path), torch.device("cpu"), log_every=1).fit()
    for record in RunDir(tmp_path).metrics():  # 5 steps per epoch: steps 1-5 are epoch 1, 6-10 epoch 2
        assert record["epoch"] == (record["step"] - 1) // 5 + 1, record


def test_the_checkpoint_holds_the_trainer_state_and_a_resumed_trainer_continues_it(tmp_path):
    torch.manual_seed(0)
    config = TrainingConfig(epochs=3, lr=0.1)
    model = torch.nn.Linear(1, 1)
    Trainer(model, ToyTask(), config, RunDir(tmp_path / "a"), torch.device("cpu")).fit()
    torch.manual_seed(0)
    stopped = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "b"), torch.device("cpu"),
                      max_minutes=1e-9)
    assert stopped.fit()["step"] == 1
    _, saved = RunDir(tmp_path / "b").load_checkpoint()
    assert saved["state"]["step"] == 1 and saved["state"]["index"] == 1 and saved["state"]["epoch"] == 0
    resumed = Trainer(torch.nn.Linear(1, 1), ToyTask(), config, RunDir(tmp_path / "b"), torch.device("cpu"))
    resumed.resume()
    assert resumed.state.step == 1 and resumed.fit()["step"] == 15
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), resumed.model.state_dict().values()))
