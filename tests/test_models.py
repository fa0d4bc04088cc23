"""The networks: one recurrent encoder under both models, exact under padding, state carried."""

from __future__ import annotations

import pytest
import torch

from seqrnn.nn.models import CharRNN, RecurrentEncoder, SentimentRNN


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "max", "mean", "maxmean"])
def test_prediction_does_not_depend_on_batch_padding(cell, pooling):
    """A review padded into a batch of longer ones scores exactly as it does alone."""
    torch.manual_seed(0)
    model = SentimentRNN(30, embed_size=8, hidden_size=8, num_layers=2, cell=cell, bidirectional=True,
                         pooling=pooling, dropout=0.0).eval()
    short = torch.tensor([[5, 6, 7]])
    batch = torch.tensor([[5, 6, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        alone = model(short, torch.tensor([3]))
        padded = model(batch, torch.tensor([3, 6]))
    assert torch.allclose(alone, padded[:1], atol=1e-6)



def test_both_models_share_the_encoder_so_one_can_start_the_other():
    torch.manual_seed(0)
    char = CharRNN(40, embed_size=8, hidden_size=16, num_layers=2)
    review = SentimentRNN(40, embed_size=8, hidden_size=16, num_layers=2)
    review.encoder.load_state_dict(char.encoder.state_dict(), strict=True)
    for name, tensor in char.encoder.state_dict().items():
        assert torch.equal(review.encoder.state_dict()[name], tensor), name
    assert {k.split(".")[0] for k in char.state_dict()} == {k.split(".")[0] for k in review.state_dict()} \
        == {"encoder", "head"}


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_state_of_a_multi_layer_encoder_carries_across_windows(cell):
    torch.manual_seed(0)
    encoder = RecurrentEncoder(11, 0, 8, num_layers=2, cell=cell).eval()
    tokens = torch.randint(0, 11, (3, 10))
    with torch.no_grad():
        whole, final = encoder(tokens)
        first, state = encoder(tokens[:, :4])
        second, carried = encoder(tokens[:, 4:], state=state)
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-6)
    finals = final if isinstance(final, tuple) else (final,)
    for a, b in zip(finals, carried if isinstance(carried, tuple) else (carried,)):
        assert a.shape == (2, 3, 8) and torch.allclose(a, b, atol=1e-6)


def test_a_bidirectional_encoder_refuses_a_carried_state():
    encoder = RecurrentEncoder(5, 4, 4, bidirectional=True)
    with pytest.raises(ValueError, match="zero state"):
        encoder(torch.zeros(1, 3, dtype=torch.long), state=torch.zeros(1, 1, 4))
