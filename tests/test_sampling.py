"""Fast sampling: the NumPy stepper against the PyTorch model, the filters, the shared option rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqrnn.errors import SeqrnnError
from seqrnn.nn.networks import CharRNN
from seqrnn.nn.sampling import (
    DEFAULT_TOP_N,
    RecurrentStepper,
    check_sampling_options,
    effective_top_n,
    next_char_probabilities,
)


@pytest.mark.parametrize("cell,layers,embed", [("lstm", 2, 0), ("gru", 1, 5), ("rnn", 2, 5)])
def test_numpy_stepper_matches_the_pytorch_model(cell, layers, embed):
    torch.manual_seed(1)
    model = CharRNN(9, embed_size=embed, hidden_size=12, num_layers=layers, cell=cell).eval()
    ids = torch.tensor([[3, 1, 4, 1, 5, 8, 2, 6]])
    with torch.no_grad():
        expected, _ = model(ids)
    stepper = RecurrentStepper(model)
    state = stepper.initial_state(1)
    for t in range(ids.shape[1]):
        logits, state = stepper.step(ids[0, t : t + 1].numpy(), state)
        np.testing.assert_allclose(logits[0], expected[0, t].double().numpy(), atol=1e-5)


def test_sampling_filters():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    np.testing.assert_allclose(next_char_probabilities(logits, top_n=2), [[0.625, 0.375, 0, 0]])
    np.testing.assert_allclose(next_char_probabilities(logits, top_p=0.7), [[0.625, 0.375, 0, 0]])
    np.testing.assert_allclose(next_char_probabilities(logits, top_p=0.8), [[0.5, 0.3, 0.15, 0]] / np.float64(0.95))
    np.testing.assert_allclose(next_char_probabilities(logits, temperature=0), [[1, 0, 0, 0]])
    flat = next_char_probabilities(logits, temperature=100.0)
    assert flat.max() - flat.min() < 0.01


def test_check_sampling_options_refuses_non_numbers():
    check_sampling_options(length=np.int64(3), temperature=np.float32(0.5), top_n=np.int32(2), top_p=1)
    for bad in ({"length": 2.5}, {"length": True}, {"top_n": "5"}, {"temperature": "1"}, {"top_p": "0.5"},
                {"temperature": None}):
        with pytest.raises(SeqrnnError, match=f"^{next(iter(bad))} must be "):
            check_sampling_options(**bad)



def test_top_n_defaults_to_the_books_five_unless_top_p_is_given():
    assert effective_top_n(None, None) == DEFAULT_TOP_N == 5
    assert effective_top_n(None, 0.9) is None
    assert effective_top_n(3, 0.9) == 3 and effective_top_n(3, None) == 3
