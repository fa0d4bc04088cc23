"""Every hyperparameter, once: one configuration dataclass per task, its presets, its validation.

A task's configuration (a `TaskConfig`) has three parts: `model` (the network; its fields are the model class's
constructor arguments), `data` (how examples become tensors and which are held out) and `training`
(the loop's settings). Each field is declared once with `option(...)`: its book default, its help
text, and its allowed values. From these declarations come

- the presets (`book` is the dataclass defaults, the chapter's exact configuration; `default`
  overrides what measured better on a 2-core CPU),
- `config.json` (`to_dict`) and reading it back (`from_dict`, one-line errors),
- the estimators' scikit-learn parameters (`flat_fields`) and the command line's flags
  (`add_arguments`),
- the validation, in `__post_init__`, with messages in parameter names (`lr must be ...`).

Every numeric field has a range the optimizer and the allocator can honour: its own bounds
(`at_least`, `above`, `below`, `at_most`), and for integers at most `INT_MAX` (they end up in
int64 arrays and tensors). Sizes that fit the range but not the machine (a 30000-unit LSTM) are
refused once the data is known, by `seqrnn.memory`.

Adding a hyperparameter is one `option(...)` line in the right part (plus the code that uses it).
This module imports nothing heavy, so `seqrnn --help` stays instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from seqrnn.errors import InvalidInputError, SeqrnnError

CELLS = ("lstm", "gru", "rnn")
POOLINGS = ("last", "max", "mean", "maxmean")
SCHEDULES = ("constant", "cosine")
EMBED_INITS = ("random", "ppmi")
DIRECTIONS = ("forward", "backward", "both")
SOFTMAXES = ("adaptive", "full")
CLASS_WEIGHTS = ("none", "balanced", "auto")  # None (earlier model directories): "none"
NGRAMS = ("none", "pairs")  # a text classifier's n-gram model: none, or words and word pairs
IMBALANCE_RATIO = 3  # class_weight="auto" weighs the classes when the largest has this many times the smallest's texts
SMALL_BATCH = 16  # min_epoch_batches halves a text classifier's batch size down to this and no further
NORMALISATIONS = ("series", "channel", "none")  # of numeric series: per series, per channel of the training set, none

INT_MAX = 2**63 - 1  # every integer setting: NumPy's and torch's int64
# AdamW's step is up to lr / (1 - beta1) = 10 lr, its decay lr * weight_decay, both as float32 (at most 3.4e38):
# with lr, weight_decay and encoder_lr_fraction within their bounds, no step overflows
MAX_LR = 1e30
_LR_WHY = "AdamW's float32 steps overflow beyond it"
MAX_SEED = 2**32 - 1  # the usual seed range (NumPy's legacy generator, most tools)
MAX_THREADS = 1024  # torch crashes creating tens of thousands of threads
MAX_LAYERS = 1000


def option(default: Any, help: str, *, choices: tuple | None = None, at_least: float | None = None,
           above: float | None = None, below: float | None = None, at_most: float | None = None,
           why: str | None = None) -> Any:
    """A configuration field: its default, help text and allowed values (checked on every value);
    `why` explains the upper bound in the error message."""
    return field(default=default, metadata={"help": help, "choices": choices, "at_least": at_least,
                                            "above": above, "below": below, "at_most": at_most, "why": why})


class _Checked:
    """Base of every configuration part: converts and checks each field's value on construction."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            try:
                value = check_value(_hints(type(self))[f.name], f.metadata, getattr(self, f.name))
            except ValueError as exc:  # a ValueError for the library, one line on the command line
                raise InvalidInputError(f"{f.name} {exc}") from None
            object.__setattr__(self, f.name, value)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved type annotations of a dataclass (they are strings under `from __future__`)."""
    return typing.get_type_hints(cls)


def check_value(hint: Any, rules: Mapping[str, Any], value: Any) -> Any:
    """`value` converted to the field's type and checked against its rules; ValueError('must be ...')."""
    kinds = [t for t in typing.get_args(hint) if t is not type(None)] if typing.get_args(hint) else [hint]
    kind = kinds[0]
    if value is None:
        if type(None) in typing.get_args(hint):
            return None
        raise ValueError("must be given, got None")
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"must be an integer, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value}")
    elif kind is str and not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r}")
    if rules.get("choices") and value not in rules["choices"]:
        raise ValueError(f"must be one of {', '.join(rules['choices'])}, got {value!r}")
    if rules.get("at_least") is not None and value < rules["at_least"]:
        raise ValueError(f"must be at least {rules['at_least']}, got {value}")
    if rules.get("above") is not None and value <= rules["above"]:
        raise ValueError(f"must be more than {rules['above']}, got {value}")
    if rules.get("below") is not None and value >= rules["below"]:
        raise ValueError(f"must be less than {rules['below']}, got {value}")
    ceiling = rules.get("at_most")
    if ceiling is None and kind is int:
        ceiling = INT_MAX
    if ceiling is not None and value > ceiling:
        why = f" ({rules['why']})" if rules.get("why") else ""
        raise ValueError(f"must be at most {ceiling:g}{why}, got {value:g}" if kind is float
                         else f"must be at most {ceiling}{why}, got {value}")
    return value


# --- the parts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingConfig(_Checked):
    """The training loop's settings (both tasks). Defaults: the book's character model."""

    epochs: int = option(100, "epochs in total", at_least=1)
    batch_size: int = option(64, "examples per batch (for text: parallel streams)", at_least=1)
    lr: float = option(1e-3, "learning rate of AdamW", above=0, at_most=MAX_LR, why=_LR_WHY)
    weight_decay: float = option(0.0, "AdamW's decoupled weight decay (0 = Adam)", at_least=0, at_most=1e3)
    grad_clip: float = option(5.0, "clip gradients to this global norm (0 = off)", at_least=0)
    schedule: str = option("constant", "learning-rate schedule after warm-up", choices=SCHEDULES)
    warmup_steps: int = option(0, "steps of linear learning-rate warm-up", at_least=0)
    final_lr_fraction: float = option(0.05, "cosine schedule: the last step's fraction of lr", at_least=0, below=1)
    eval_every: int = option(0, "validate every N steps as well as after every epoch (0 = epochs only)",
                             at_least=0)
    seed: int = option(1, "random seed: the same seed gives the same model on the CPU", at_least=0, at_most=MAX_SEED)


@dataclass(frozen=True)
class RecurrentLayersConfig(_Checked):
    """The recurrent stack both models share (`models.RecurrentEncoder`); the book's sizes."""

    cell: str = option("lstm", "recurrent cell", choices=CELLS)
    num_layers: int = option(1, "recurrent layers", at_least=1, at_most=MAX_LAYERS)
    hidden_size: int = option(128, "units per recurrent layer (and direction)", at_least=1)
    dropout: float = option(0.5, "drop probability after each recurrent layer (the book's keep_prob 0.5 is 0.5)",
                            at_least=0, below=1)


@dataclass(frozen=True)
class CharModelConfig(RecurrentLayersConfig):
    """`CharRNN`'s architecture. Defaults: the book's (one-hot input, LSTM 128, keep_prob 0.5)."""

    embed_size: int = option(0, "character embedding size (0 = one-hot input)", at_least=0)


@dataclass(frozen=True)
class CharDataConfig(_Checked):
    """How the corpus becomes windows, and what is held out."""

    num_steps: int = option(100, "characters per truncated-BPTT window", at_least=1)
    val_fraction: float = option(0.1, "the last fraction of the corpus held out for validation", at_least=0,
                                 below=1)
    limit: int | None = option(None, "use only the first N characters", at_least=1)


@dataclass(frozen=True)
class TextNetworkConfig(RecurrentLayersConfig):
    """A many-to-one network over words (`TextClassifierNetwork`). Defaults: the book's (embedding
    256, LSTM 128, the last step)."""

    embed_size: int = option(256, "word embedding size", at_least=1)
    embed_dropout: float = option(0.0, "drop probability on the embedded words", at_least=0, below=1)
    bidirectional: bool = option(False, "read each review in both directions")
    pooling: str = option("last", "summary of the outputs: the last step, or max / mean / both over the tokens",
                          choices=POOLINGS)


@dataclass(frozen=True)
class ClassifierModelConfig(TextNetworkConfig):
    """The text classifier's model: its network (`TextNetworkConfig`) and the n-gram model beside it."""

    ngram: str = option("none", "a linear model of the words and word pairs beside the network (NB-SVM for two "
                        "classes, TF-IDF + logistic regression for more), trained on the same texts and combined "
                        "with the network by a weight chosen on the held-out texts; none: the network alone",
                        choices=NGRAMS)


@dataclass(frozen=True)
class TextDataConfig(_Checked):
    """How texts (the book's reviews) become token ids, and which are held out."""

    seq_len: int = option(200, "tokens kept per review (the last ones)", at_least=1)
    pad: str = option("left", "where padding goes: left (the book's, with pooling=last) or right",
                      choices=("left", "right"))
    bucket: bool = option(False, "batch reviews of similar length together")
    min_count: int = option(1, "least count of a word in the training reviews to enter the vocabulary", at_least=1)
    max_vocab: int = option(0, "most words in the vocabulary, the most frequent (0 = all)", at_least=0)
    val_fraction: float = option(0.1, "fraction of the training reviews held out (seeded)", at_least=0, below=1)
    limit: int | None = option(None, "use only the first N reviews after the seeded shuffle", at_least=1)


@dataclass(frozen=True)
class ClassifierTrainingConfig(TrainingConfig):
    """The loop's settings for a text classifier (the book's sentiment defaults), and how the
    embedding starts."""

    epochs: int = option(40, "epochs in total", at_least=1)
    batch_size: int = option(100, "reviews per batch", at_least=1)
    min_epoch_batches: int = option(0, "small data trains with smaller batches: batch_size is halved (not below "
                                    f"{SMALL_BATCH}) while an epoch would have fewer than this many batches "
                                    "(0 = batch_size always)", at_least=0)
    grad_clip: float = option(0.0, "clip gradients to this global norm (0 = off)", at_least=0)
    embed_init: str = option("random", "start the embedding at random, or from PPMI word vectors of the training "
                             "and unlabelled reviews", choices=EMBED_INITS)
    init_from: str | None = option(None, "start the embedding and recurrent layers from this language model "
                                   "directory (`seqrnn lm train`); the classifier takes its vocabulary")
    encoder_lr_fraction: float = option(1.0, "learning rate of the embedding and recurrent layers as a fraction "
                                        "of lr (below 1: they change less than the head)", above=0, at_most=1e3)
    unfreeze_every: float = option(0.0, "gradual unfreezing: train the head alone at first, then add the "
                                   "recurrent layers from the top and the embedding last, one every this many "
                                   "epochs (0 = everything trains from the start)", at_least=0, at_most=1e6)
    class_weight: str | None = option("none", "weight the loss by class: balanced weighs each class by n_texts / "
                                      "(n_classes * its texts), scikit-learn's meaning, for imbalanced labels, and "
                                      "keeps the weights of the best validation macro-F1; auto does so when the "
                                      f"largest class has at least {IMBALANCE_RATIO} times the texts of the smallest; "
                                      "none: every text counts the same", choices=CLASS_WEIGHTS)


# --- a task's whole configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class TaskConfig:
    """model + data + training. Field names are unique across the parts, so they can be flat."""

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    @classmethod
    def part_classes(cls) -> dict[str, type]:
        return {f.name: _hints(cls)[f.name] for f in fields(cls)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TaskConfig":
        """The configuration written by `to_dict` (e.g. read from config.json); one-line errors."""
        parts = {}
        for name, part_class in cls.part_classes().items():
            values = d.get(name) if isinstance(d, Mapping) else None
            if not isinstance(values, Mapping):
                raise SeqrnnError(f"configuration has no {name!r} section")
            known = {f.name for f in fields(part_class)}
            unknown = sorted(set(values) - known)
            if unknown:
                raise SeqrnnError(f"unknown {name} setting {unknown[0]!r}")
            parts[name] = part_class(**values)
        return cls(**parts)

    def flat(self) -> dict[str, Any]:
        """Every setting by its (unique) name."""
        return {name: value for part in self.to_dict().values() for name, value in part.items()}

    def replace(self, **overrides: Any) -> "TaskConfig":
        """A copy with some settings changed (None leaves a setting as it is); checked again."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        owner = {name: part for name, (part, _) in flat_fields(type(self)).items()}
        unknown = sorted(set(overrides) - set(owner))
        if unknown:
            raise InvalidInputError(f"unknown setting {unknown[0]!r}")
        parts = {}
        for part in self.part_classes():
            mine = {k: v for k, v in overrides.items() if owner[k] == part}
            parts[part] = dataclasses.replace(getattr(self, part), **mine)
        return dataclasses.replace(self, **parts)


@dataclass(frozen=True)
class CharLMConfig(TaskConfig):
    """The character language model. The defaults are the book's CharRNN exactly."""

    model: CharModelConfig = field(default_factory=CharModelConfig)
    data: CharDataConfig = field(default_factory=CharDataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)


@dataclass(frozen=True)
class ClassifierConfig(TaskConfig):
    """The text classifier (`TextClassifier`). The defaults are the book's sentiment model exactly."""

    model: ClassifierModelConfig = field(default_factory=ClassifierModelConfig)
    data: TextDataConfig = field(default_factory=TextDataConfig)
    training: ClassifierTrainingConfig = field(default_factory=ClassifierTrainingConfig)


@dataclass(frozen=True)
class RunOptions(_Checked):
    """How one invocation runs; not part of the model, not saved (a resumed run may change them)."""

    max_minutes: float | None = option(None, "stop cleanly after this many minutes of wall-clock time", above=0)
    checkpoint_every: float = option(5.0, "also write the checkpoint every this many minutes (0 = at epoch ends "
                                     "only): what a kill -9 can lose", at_least=0)
    skip_nonfinite: int = option(0, "skip up to N batches whose loss or gradient is NaN or infinite, instead of "
                                 "stopping at the first", at_least=0)
    threads: int | None = option(None, "CPU threads for PyTorch (default: all cores)", at_least=1,
                                 at_most=MAX_THREADS)
    device: str = option("auto", "where to train and predict: auto (CUDA when present), cpu, cuda, cuda:N, mps or "
                         "another torch device")
    quiet: bool = option(False, "print no progress while training (neither the bar nor the plain lines)")
    tensorboard: bool = option(False, "also write the curves as TensorBoard event files into DIR/tensorboard/ "
                               "(tensorboard --logdir DIR; needs pip install 'seqrnn[tensorboard]')")
    eval_batch_size: int | None = option(None, "examples per batch when validating, evaluating and predicting "
                                         "(default: 256 reviews; for text, up to 64 rows of the stream)", at_least=1)
    eval_batches: int = option(40, "validation during training reads at most N training batches' worth of the "
                               "held-out data, the same every time (0: all of it); evaluate always reads all",
                               at_least=0)


def flat_fields(config_class: type) -> dict[str, tuple[str, dataclasses.Field]]:
    """{setting name: (part name, field)} over the parts of a task configuration class."""
    out: dict[str, tuple[str, dataclasses.Field]] = {}
    for part, part_class in config_class.part_classes().items():
        for f in fields(part_class):
            out[f.name] = (part, f)
    return out


# --- the command line's flags, from the same fields ------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser, dataclass_type: type, title: str | None = None,
                  presets: Mapping[str, TaskConfig] | None = None) -> None:
    """One flag per field (`hidden_size` -> `--hidden-size`), default None (= the preset's value),
    parsed and range-checked by the field's own rules, so a bad value is a one-line usage error.
    With `presets`, each flag's help ends with the presets' values."""
    target = parser.add_argument_group(title) if title else parser
    classes = dataclass_type.part_classes().values() if issubclass(dataclass_type, TaskConfig) else [dataclass_type]
    preset_values = {name: preset.flat() for name, preset in (presets or {}).items()}
    for part_class in classes:
        for f in fields(part_class):
            flag, hint, rules = "--" + f.name.replace("_", "-"), _hints(part_class)[f.name], f.metadata
            help_text = rules["help"]
            if preset_values:
                shown = ", ".join(f"{name}: {values[f.name]}" for name, values in preset_values.items())
                help_text += f" ({shown})"
            if hint is bool:
                target.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            else:
                kind = next(t for t in (typing.get_args(hint) or (hint,)) if t is not type(None))
                target.add_argument(flag, type=_parser_for(hint, rules), default=None, help=help_text,
                                    choices=rules.get("choices"), metavar={int: "N", float: "X"}.get(kind))


def field_type(dataclass_type: type, name: str):
    """The argparse `type` of one field, for a flag declared by hand (e.g. `--threads` of the commands
    that use a trained model): the same parsing and range as the field's own flag."""
    f = next(f for f in fields(dataclass_type) if f.name == name)
    return _parser_for(_hints(dataclass_type)[name], f.metadata)


def _parser_for(hint: Any, rules: Mapping[str, Any]):
    kind = next(t for t in (typing.get_args(hint) or (hint,)) if t is not type(None))

    def parse(text: str):
        try:
            value = kind(text) if kind is not float else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
        try:
            return check_value(hint, rules, value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def resolve(presets: Mapping[str, TaskConfig], preset: str, overrides: Mapping[str, Any]) -> TaskConfig:
    """The preset with the given settings (None = keep the preset's) changed."""
    if preset not in presets:
        raise InvalidInputError(f"unknown preset {preset!r}: choose from {', '.join(presets)}")
    return presets[preset].replace(**overrides)


# --- the presets -----------------------------------------------------------------------------------

CHARLM_PRESETS: dict[str, CharLMConfig] = {
    "book": CharLMConfig(),
    "default": CharLMConfig().replace(hidden_size=512, embed_size=64, dropout=0.25, batch_size=32, lr=3e-3,
                                      epochs=12, schedule="cosine"),  # type: ignore[assignment]
}
"""The character model's presets: ``book``, the chapter's CharRNN exactly (the dataclass defaults), and
``default``, the best measured for a 2-core CPU budget (documentation: Results, Character model)."""

CLASSIFIER_PRESETS: dict[str, ClassifierConfig] = {
    "book": ClassifierConfig(),
    "default": ClassifierConfig().replace(embed_size=128, dropout=0.3, embed_dropout=0.2, bidirectional=True,
                                         pooling="maxmean", seq_len=1000, pad="right", bucket=True, min_count=2,
                                         max_vocab=30000, batch_size=64, min_epoch_batches=50, lr=2e-3,
                                         grad_clip=5.0, epochs=6, schedule="cosine", embed_init="ppmi", ngram="pairs",
                                         class_weight="auto"),  # type: ignore[assignment]
}
"""The text classifier's presets: ``book``, the chapter's model exactly (the dataclass defaults), and
``default``, the best measured for a 2-core CPU budget (documentation: Results, Text classification)."""

# the same classes under the book's sentiment names: both names work
SentimentConfig = ClassifierConfig
SentimentModelConfig = ClassifierModelConfig
ReviewDataConfig = TextDataConfig
SentimentTrainingConfig = ClassifierTrainingConfig
SENTIMENT_PRESETS = CLASSIFIER_PRESETS


# --- the word-level language model (`seqrnn lm`) --------------------------------------------------


@dataclass(frozen=True)
class WordLMModelConfig(RecurrentLayersConfig):
    """`WordLM`'s architecture. Its sizes must match the classifier it is to start (the default
    sentiment classifier's: embedding 128, LSTM 128, one layer per direction)."""

    dropout: float = option(0.1, "drop probability after each recurrent layer", at_least=0, below=1)
    embed_size: int = option(128, "word embedding size", at_least=1)
    embed_dropout: float = option(0.1, "drop probability on the embedded words", at_least=0, below=1)
    direction: str = option("both", "which language models: forward (next word), backward (previous word) or "
                            "both on one embedding", choices=DIRECTIONS)
    softmax: str = option("adaptive", "output layer over the vocabulary: adaptive softmax or full", choices=SOFTMAXES)


@dataclass(frozen=True)
class WordStreamDataConfig(_Checked):
    """How documents become one stream of word ids, and which are held out. The held-out reviews
    are the ones a sentiment classifier with the same seed and val_fraction validates on."""

    num_steps: int = option(70, "words per truncated-BPTT window", at_least=1)
    min_count: int = option(2, "least count of a word in the training text to enter the vocabulary", at_least=1)
    max_vocab: int = option(30000, "most words in the vocabulary, the most frequent (0 = all)", at_least=0)
    val_fraction: float = option(0.1, "fraction of the labelled documents held out (seeded, as the classifier's)",
                                 at_least=0, below=1)
    limit: int | None = option(None, "use only the first N labelled and N unlabelled documents", at_least=1)


@dataclass(frozen=True)
class LMTrainingConfig(TrainingConfig):
    """The loop's settings for the word language model."""

    epochs: int = option(1, "epochs in total", at_least=1)
    batch_size: int = option(64, "parallel streams", at_least=1)
    lr: float = option(3e-3, "learning rate of AdamW", above=0, at_most=MAX_LR, why=_LR_WHY)
    grad_clip: float = option(1.0, "clip gradients to this global norm (0 = off)", at_least=0)
    schedule: str = option("cosine", "learning-rate schedule after warm-up", choices=SCHEDULES)
    warmup_steps: int = option(100, "steps of linear learning-rate warm-up", at_least=0)
    embed_init: str = option("ppmi", "start the embedding at random, or from PPMI word vectors of the training "
                             "text", choices=EMBED_INITS)


@dataclass(frozen=True)
class LMConfig(TaskConfig):
    """The word-level language model."""

    model: WordLMModelConfig = field(default_factory=WordLMModelConfig)
    data: WordStreamDataConfig = field(default_factory=WordStreamDataConfig)
    training: LMTrainingConfig = field(default_factory=LMTrainingConfig)


LM_PRESETS: dict[str, LMConfig] = {"default": LMConfig()}
"""The word language model's one preset, ``default``: the sizes of the default text classifier, so that it
can start one."""


# --- the series classifier (`seqrnn.tasks.series`) ----------------------------------------------


@dataclass(frozen=True)
class SeriesModelConfig(RecurrentLayersConfig):
    """The series classifier's network (`SeriesClassifierNetwork`)."""

    hidden_size: int = option(64, "units per recurrent layer (and direction)", at_least=1)
    dropout: float = option(0.0, "drop probability after each recurrent layer", at_least=0, below=1)
    projection_size: int = option(32, "width of the per-step projection of the channels", at_least=1)
    bidirectional: bool = option(False, "read each series in both directions")
    pooling: str = option("last", "summary of the outputs: the last step, or max / mean / both over the steps",
                          choices=POOLINGS)


@dataclass(frozen=True)
class SeriesDataConfig(_Checked):
    """How series become the network's input, which are held out, and the baseline kept."""

    normalise: str = option("series", "series: z-normalise each series per channel; channel: per-channel "
                            "statistics of the training set; none: raw values", choices=NORMALISATIONS)
    max_steps: int = option(1000, "longer series are averaged over equal windows down to this many steps",
                            at_least=1)
    small_set: int = option(500, "with fewer training series than this, none is held out: train all epochs "
                            "and keep the last", at_least=0)
    val_fraction: float = option(0.2, "fraction of the training series held out (stratified, seeded) when "
                                 "there are at least small_set", at_least=0, below=1)
    limit: int | None = option(None, "use only the first N series after the seeded shuffle", at_least=1)
    baseline_values: int = option(20_000_000, "most values (series x channels x steps) of the 1-NN baseline "
                                  "kept with the model (0 = no baseline)", at_least=0)


@dataclass(frozen=True)
class SeriesTrainingConfig(TrainingConfig):
    """The loop's settings for a series classifier."""

    epochs: int = option(100, "epochs in total", at_least=1)
    batch_size: int = option(16, "series per batch", at_least=1)
    grad_clip: float = option(1.0, "clip gradients to this global norm (0 = off)", at_least=0)


@dataclass(frozen=True)
class SeriesConfig(TaskConfig):
    """The series classifier (`SeriesClassifier`)."""

    model: SeriesModelConfig = field(default_factory=SeriesModelConfig)
    data: SeriesDataConfig = field(default_factory=SeriesDataConfig)
    training: SeriesTrainingConfig = field(default_factory=SeriesTrainingConfig)


SERIES_PRESETS: dict[str, SeriesConfig] = {
    "default": SeriesConfig().replace(  # type: ignore[assignment]
        cell="gru", hidden_size=64, projection_size=32, bidirectional=True, pooling="maxmean", normalise="channel",
        epochs=100, batch_size=16, lr=3e-3, weight_decay=1e-2, schedule="cosine"),
}
"""The series classifier's preset ``default``: the best measured on splits of the four archive
training sets within a minute of training on 2 CPU cores (documentation: Results, series
classification)."""

# --- forecasting (`seqrnn forecast`) ---------------------------------------------------------------

DISTRIBUTIONS = ("student_t", "gaussian")


@dataclass(frozen=True)
class ForecastModelConfig(RecurrentLayersConfig):
    """The forecaster's network: the lagged values and calendar features of each step, projected,
    through a forward recurrent stack, to the parameters of the next value's distribution."""

    num_layers: int = option(2, "recurrent layers", at_least=1, at_most=MAX_LAYERS)
    hidden_size: int = option(40, "units per recurrent layer", at_least=1)
    dropout: float = option(0.1, "drop probability after each recurrent layer", at_least=0, below=1)
    projection_size: int = option(16, "width of the projection of each step's features", at_least=1)
    distribution: str = option("student_t", "the distribution of the next value: Student-t (location, scale, "
                               "degrees of freedom) or Gaussian", choices=DISTRIBUTIONS)


@dataclass(frozen=True)
class ForecastDataConfig(_Checked):
    """How series become training windows, and what is held out."""

    horizon: int = option(12, "steps to forecast: the longest horizon the model predicts", at_least=1, at_most=10000)
    context_length: int = option(0, "steps the model conditions on before the horizon, and the part of each window "
                                 "the scale is measured on (0: auto, 3 seasons or 3 horizons, whichever is longer, "
                                 "cut to what the shortest series allows)", at_least=0, at_most=100000)
    seasonal_period: int = option(0, "steps in a season, for the seasonal lag, the calendar features, seasonal "
                                  "naive and MASE (0: from the frequency, 12 for monthly, 4 quarterly, 7 daily ...)",
                                  at_least=0, at_most=100000)
    scaling: str = option("auto", "divide each window by the mean absolute value of its context (mean_abs, "
                          "DeepAR's), or leave the values as they are (none); auto: mean_abs when no value is negative "
                          "(levels: sales, counts), none when some are (changes and rates around 0)",
                          choices=("auto", "mean_abs", "none"))
    calendar: bool = option(True, "give each step its phase in the season (month, quarter, weekday, hour)")
    seasonal_inputs: str = option("auto", "read the value one season earlier and the calendar phase (on), or "
                                  "neither (off); auto: on when some series has more than two seasons before "
                                  "its validation horizon", choices=("auto", "on", "off"))
    calibrate: bool = option(True, "widen or narrow the forecast's spread around its median by the factor that "
                             "makes the 80% interval hold 80% of the validation points")
    fallback: bool = option(True, "forecast with naive or seasonal naive instead of the network when its mean "
                            "validation MASE is lower")
    windows_per_epoch: int = option(2048, "training windows (context + horizon) drawn across all series per epoch",
                                    at_least=1)
    num_samples: int = option(200, "sample paths drawn per series to form the median and the intervals",
                              at_least=10, at_most=100000)


@dataclass(frozen=True)
class ForecastTrainingConfig(TrainingConfig):
    """The loop's settings for the forecaster."""

    epochs: int = option(30, "epochs in total", at_least=1)
    batch_size: int = option(64, "windows per batch", at_least=1)
    lr: float = option(3e-3, "learning rate of AdamW", above=0, at_most=MAX_LR, why=_LR_WHY)
    grad_clip: float = option(10.0, "clip gradients to this global norm (0 = off)", at_least=0)
    schedule: str = option("cosine", "learning-rate schedule after warm-up", choices=SCHEDULES)


@dataclass(frozen=True)
class ForecastConfig(TaskConfig):
    """The forecaster (`Forecaster`)."""

    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    data: ForecastDataConfig = field(default_factory=ForecastDataConfig)
    training: ForecastTrainingConfig = field(default_factory=ForecastTrainingConfig)


FORECAST_PRESETS: dict[str, ForecastConfig] = {"default": ForecastConfig()}
"""The forecaster's one preset, ``default``: the configuration measured on the results page (Forecasting)."""
