"""The networks: input encoders, one recurrent body exact under padding and carrying its state,
heads; the text networks' weights keep their names and numbers; a numeric series classifier is a
new combination of the same parts."""

from __future__ import annotations

import time

import pytest
import torch

from seqrnn.nn import body as body_module
from seqrnn.nn.body import (
    RecurrentBody,
    detach_state,
    make_rnn,
    reverse_padded,
    run_layers,
)
from seqrnn.nn.heads import SequenceHead, StepHead, WordSoftmax, pool
from seqrnn.nn.inputs import NumericProjection, OneHot, TokenEmbedding, token_inputs
from seqrnn.nn.networks import (
    CharLanguageNetwork,
    CharRNN,
    RecurrentEncoder,
    SentimentRNN,
    SeriesClassifierNetwork,
    StepNetwork,
    TextClassifierNetwork,
    TokenEncoder,
    WordLanguageNetwork,
    WordLM,
)

# --- input encoders -------------------------------------------------------------------------------

def test_each_input_encoder_tells_the_size_it_gives():
    tokens = torch.tensor([[1, 2, 3], [4, 0, 0]])
    values = torch.randn(2, 3, 2)
    for inputs, x, size in [(TokenEmbedding(10, 4), tokens, 4), (OneHot(10), tokens, 10),
                            (NumericProjection(2, 5), values, 5)]:
        assert inputs.output_size == size
        assert inputs(x).shape == (2, 3, size)


def test_token_inputs_are_an_embedding_or_one_hot_rows():
    assert isinstance(token_inputs(10, 4, padding_idx=0), TokenEmbedding)
    one_hot = token_inputs(10, 0)
    assert isinstance(one_hot, OneHot) and list(one_hot.parameters()) == []
    assert one_hot(torch.tensor([[3]])).tolist() == [[[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]]]


def test_a_numeric_projection_takes_values_in_its_own_type_and_checks_the_channels():
    projection = NumericProjection(2, 3)
    values = torch.randn(1, 4, 2, dtype=torch.float64)
    out = projection(values)
    assert out.dtype == torch.float32
    assert torch.allclose(out, values.float() @ projection.weight.T + projection.bias)
    with pytest.raises(ValueError, match=r"\(batch, steps, 2\)"):
        projection(torch.randn(1, 4, 3))


# --- the recurrent body ---------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_state_of_a_multi_layer_body_carries_across_windows(cell):
    torch.manual_seed(0)
    encoder = RecurrentEncoder(11, 0, 8, num_layers=2, cell=cell).eval()
    tokens = torch.randint(0, 11, (3, 10))
    with torch.no_grad():
        whole, final = encoder(tokens)
        first, state = encoder(tokens[:, :4])
        second, carried = encoder(tokens[:, 4:], state=detach_state(state))
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-6)
    finals = final if isinstance(final, tuple) else (final,)
    for a, b in zip(finals, carried if isinstance(carried, tuple) else (carried,)):
        assert a.shape == (2, 3, 8) and torch.allclose(a, b, atol=1e-6)


def test_a_bidirectional_body_refuses_a_carried_state():
    encoder = RecurrentEncoder(5, 4, 4, bidirectional=True)
    with pytest.raises(ValueError, match="zero state"):
        encoder(torch.zeros(1, 3, dtype=torch.long), state=torch.zeros(1, 1, 4))


def test_reverse_padded_reverses_within_each_length_and_leaves_the_padding():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 6, 7]])
    assert reverse_padded(x, torch.tensor([3, 4])).tolist() == [[3, 2, 1, 0], [7, 6, 5, 4]]


def test_run_layers_gives_the_stacked_final_state():
    torch.manual_seed(0)
    layers = torch.nn.ModuleList([make_rnn("gru", 3, 5), make_rnn("gru", 5, 5)])
    out, state = run_layers(layers, torch.randn(2, 4, 3), None, torch.nn.Identity())
    assert out.shape == (2, 4, 5) and state.shape == (2, 2, 5)
    assert torch.equal(state[1], out[:, -1])  # the top layer's last output is its final state
    with pytest.raises(ValueError, match="unknown cell"):
        make_rnn("transformer", 3, 5)


@pytest.mark.parametrize("inputs, groups", [(TokenEmbedding(9, 4), 3), (OneHot(9), 2), (NumericProjection(2, 4), 3)])
def test_layer_groups_go_bottom_up_with_both_directions_of_a_layer_together(inputs, groups):
    body = RecurrentBody(inputs, 6, num_layers=2, bidirectional=True)
    found = body.layer_groups()
    assert len(found) == groups
    if groups == 3:
        assert found[0] == list(inputs.parameters())
    top = found[-1]
    assert top == list(body.forward_layers[1].parameters()) + list(body.backward_layers[1].parameters())
    assert sum(len(g) for g in found) == len(list(body.parameters()))


# --- heads ----------------------------------------------------------------------------------------

def test_pooling_reads_only_each_sequences_own_steps():
    outputs = torch.tensor([[[1.0, 10.0], [3.0, 30.0], [99.0, 99.0]]])  # the third step is padding
    lengths = torch.tensor([2])
    assert pool(outputs, lengths, "max").tolist() == [[3.0, 30.0]]
    assert pool(outputs, lengths, "mean").tolist() == [[2.0, 20.0]]
    assert pool(outputs, lengths, "maxmean").tolist() == [[3.0, 30.0, 2.0, 20.0]]
    assert pool(outputs, lengths, "last").tolist() == [[3.0, 30.0]]
    # bidirectional: the forward half at the last step, the backward half at step 0
    assert pool(outputs, lengths, "last", bidirectional=True).tolist() == [[3.0, 10.0]]


def test_heads_give_one_output_per_sequence_or_per_step():
    outputs, lengths = torch.randn(3, 5, 4), torch.tensor([5, 2, 1])
    head = SequenceHead(4, 3, pooling="maxmean")
    assert head.in_features == 8 and head(outputs, lengths).shape == (3, 3)
    assert StepHead(4, 7)(outputs).shape == (3, 5, 7)
    with pytest.raises(ValueError, match="unknown pooling"):
        SequenceHead(4, 3, pooling="median")


@pytest.mark.parametrize("kind", ["adaptive", "full"])
def test_a_word_softmax_is_a_distribution(kind):
    softmax = WordSoftmax(4, 3000, kind)
    log_probs = softmax.log_prob(torch.randn(2, 4))
    assert log_probs.shape == (2, 3000)
    assert torch.allclose(log_probs.exp().sum(dim=1), torch.ones(2), atol=1e-5)


# --- the text networks: same names, same weights, same numbers ------------------------------------

def test_the_old_names_are_the_networks():
    assert SentimentRNN is TextClassifierNetwork and CharRNN is CharLanguageNetwork
    assert WordLM is WordLanguageNetwork and RecurrentEncoder is TokenEncoder
    assert body_module.CELLS == {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
    assert detach_state(None) is None and make_rnn("rnn", 2, 3).hidden_size == 3


def test_the_text_networks_keep_their_weight_names():
    layer = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]

    def stack(prefix, layers):
        return [f"{prefix}.{k}.{n}" for k in range(layers) for n in layer]

    clf = TextClassifierNetwork(30, embed_size=4, hidden_size=4, num_layers=2, bidirectional=True)
    assert list(clf.state_dict()) == ["encoder.embedding.weight", *stack("encoder.forward_layers", 2),
                                      *stack("encoder.backward_layers", 2), "head.weight", "head.bias"]
    char = CharLanguageNetwork(9, hidden_size=4, num_layers=2)  # one-hot: no embedding weights
    assert char.encoder.embedding is None
    assert list(char.state_dict()) == [*stack("encoder.forward_layers", 2), "head.weight", "head.bias"]
    word = WordLanguageNetwork(40, embed_size=4, hidden_size=4, direction="both", softmax="full")
    assert list(word.state_dict()) == ["embedding.weight", *stack("forward_layers", 1), "forward_softmax.out.weight",
                                       "forward_softmax.out.bias", *stack("backward_layers", 1),
                                       "backward_softmax.out.weight", "backward_softmax.out.bias"]


def test_seeded_text_networks_compute_the_numbers_they_always_have():
    """Seeded weights and the forward arithmetic, pinned: saved models and seeded runs rely on both."""
    x = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])
    torch.manual_seed(0)
    clf = TextClassifierNetwork(30, embed_size=4, hidden_size=4, num_layers=2, bidirectional=True,
                                pooling="maxmean", num_classes=3, dropout=0.0).eval()
    torch.manual_seed(0)
    char = CharLanguageNetwork(9, hidden_size=4, num_layers=2, dropout=0.0).eval()
    with torch.no_grad():
        logits = clf(x, torch.tensor([4, 2]))
        next_char = char(x.clamp(max=8))[0][:, -1]
    expected_clf = [[-0.026901439, -0.247117206, 0.067095488], [-0.062934488, -0.246665925, 0.095767259]]
    expected_char = [0.380822300, -0.237549185, 0.209932923, -0.398365101, -0.334797471, -0.398219704,
                     -0.203213393, 0.397379189, -0.423632889]
    assert torch.allclose(logits, torch.tensor(expected_clf), atol=1e-5)
    assert torch.allclose(next_char[0], torch.tensor(expected_char), atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "max", "mean", "maxmean"])
def test_prediction_does_not_depend_on_batch_padding(cell, pooling):
    """A review padded into a batch of longer ones scores exactly as it does alone."""
    torch.manual_seed(0)
    model = TextClassifierNetwork(30, embed_size=8, hidden_size=8, num_layers=2, cell=cell, bidirectional=True,
                                  pooling=pooling, dropout=0.0).eval()
    short = torch.tensor([[5, 6, 7]])
    batch = torch.tensor([[5, 6, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        alone = model(short, torch.tensor([3]))
        padded = model(batch, torch.tensor([3, 6]))
    assert torch.allclose(alone, padded[:1], atol=1e-6)


def test_the_classifier_and_the_character_model_share_the_encoder_so_one_can_start_the_other():
    torch.manual_seed(0)
    char = CharLanguageNetwork(40, embed_size=8, hidden_size=16, num_layers=2)
    review = TextClassifierNetwork(40, embed_size=8, hidden_size=16, num_layers=2)
    review.encoder.load_state_dict(char.encoder.state_dict(), strict=True)
    for name, tensor in char.encoder.state_dict().items():
        assert torch.equal(review.encoder.state_dict()[name], tensor), name
    assert {k.split(".")[0] for k in char.state_dict()} == {k.split(".")[0] for k in review.state_dict()} \
        == {"encoder", "head"}


def test_a_classifier_has_two_classes_or_more_and_a_known_pooling():
    with pytest.raises(ValueError, match="at least 2 classes"):
        TextClassifierNetwork(10, num_classes=1)
    with pytest.raises(ValueError, match="unknown pooling"):
        SeriesClassifierNetwork(2, pooling="median")
    assert TextClassifierNetwork(10, embed_size=4, hidden_size=4)(torch.tensor([[1, 2]])).shape == (1,)
    assert TextClassifierNetwork(10, embed_size=4, hidden_size=4, num_classes=4)(torch.tensor([[1, 2]])).shape == (1, 4)


# --- numeric sequences: new combinations of the same parts ----------------------------------------

def _signed_series(n: int, generator: torch.Generator, max_len: int = 12):
    """Series of 2 channels and 3 to `max_len` steps, labelled by the sign of their mean; the
    padding after each series holds large values that must be ignored."""
    lengths = torch.randint(3, max_len + 1, (n,), generator=generator)
    level = torch.rand(n, 1, 1, generator=generator) * 2 - 1
    values = level + 0.5 * torch.randn(n, max_len, 2, generator=generator)
    mask = torch.arange(max_len).unsqueeze(0) < lengths.unsqueeze(1)
    labels = ((values * mask.unsqueeze(2)).sum(dim=(1, 2)) > 0).long()
    return values.masked_fill(~mask.unsqueeze(2), 1000.0), lengths, labels


def test_a_numeric_series_classifier_learns_the_sign_of_the_mean_whatever_the_padding():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = SeriesClassifierNetwork(2, projection_size=8, hidden_size=12, bidirectional=True, pooling="mean")
    assert isinstance(model.encoder.inputs, NumericProjection)
    assert [k for k in model.state_dict() if "projection" in k] == ["encoder.projection.weight",
                                                                      "encoder.projection.bias"]
    values, lengths, labels = _signed_series(512, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    start = time.perf_counter()
    for _ in range(120):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(values, lengths), labels.float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert time.perf_counter() - start < 30
    model.eval()
    test_values, test_lengths, test_labels = _signed_series(400, generator)
    with torch.no_grad():
        accuracy = ((model(test_values, test_lengths) > 0).long() == test_labels).float().mean().item()
        short = test_lengths.argmin()
        n = int(test_lengths[short])
        alone = model(test_values[short : short + 1, :n], test_lengths[short : short + 1])
        in_batch = model(test_values, test_lengths)[short]
    assert accuracy > 0.9
    assert n < test_values.shape[1] and torch.allclose(alone[0], in_batch, atol=1e-5)


def test_a_step_network_on_numbers_predicts_every_step_and_carries_its_state():
    """The forecasting combination: numeric projection, a forward body, a value per step."""
    torch.manual_seed(0)
    model = StepNetwork(RecurrentBody(NumericProjection(3, 4), 6, num_layers=2, cell="gru"), outputs=3).eval()
    series = torch.randn(2, 9, 3)
    with torch.no_grad():
        whole, _ = model(series)
        first, state = model(series[:, :5])
        second, _ = model(series[:, 5:], state)
    assert whole.shape == (2, 9, 3)
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-6)
    with pytest.raises(ValueError, match="forward only"):
        StepNetwork(RecurrentBody(NumericProjection(3, 4), 6, bidirectional=True), outputs=3)
