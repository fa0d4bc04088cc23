"""seqrnn: modeling sequential data with recurrent neural networks.

Five scikit-learn estimators, each with a `default` preset (the best measured on a 2-core CPU)
and, for the book's two models, a `book` preset (the chapter's exact model):

TextClassifier (also named SentimentClassifier, the book's name)
    A many-to-one recurrent text classifier: IMDb's movie-review sentiment, or your own labelled
    texts with any labels (`fit(texts, labels)`, `predict`, `predict_proba`, `save`, `load`).
CharLanguageModel
    A many-to-many character-level language model: learns a text such as *Hamlet* and writes more
    in its style (`fit(text)`, `sample`, `evaluate`, `save`, `load`).
WordLanguageModel
    Word-level language models (forward, backward or both) on reviews or any documents, whose
    directory starts a classifier (`TextClassifier(init_from=DIR)`).
SeriesClassifier
    A many-to-one recurrent classifier of numeric series (aeon's collection layout: univariate or
    multivariate, unequal lengths, missing values), with a 1-nearest-neighbour baseline in its reports.
Forecaster
    One global recurrent model over one or many numeric series: forecasts with 80% and 95%
    intervals, backtests against naive and seasonal naive (`fit(y)`, `predict`, `evaluate`).

The same work from the shell: `seqrnn classify|charlm|lm|forecast train|evaluate|predict|sample` (`seqrnn --help`).
The estimators are imported lazily so that `import seqrnn` (and the CLI's `--help`) stay fast.
"""

__version__ = "0.1.0"

__all__ = ["TextClassifier", "SentimentClassifier", "CharLanguageModel", "WordLanguageModel", "SeriesClassifier",
           "Forecaster", "__version__"]


def __getattr__(name: str):
    if name in ("TextClassifier", "SentimentClassifier"):
        from seqrnn.tasks.classifier import TextClassifier

        return TextClassifier
    if name == "CharLanguageModel":
        from seqrnn.tasks.charlm import CharLanguageModel

        return CharLanguageModel
    if name == "WordLanguageModel":
        from seqrnn.tasks.wordlm import WordLanguageModel

        return WordLanguageModel
    if name == "SeriesClassifier":
        from seqrnn.tasks.series import SeriesClassifier

        return SeriesClassifier
    if name == "Forecaster":
        from seqrnn.tasks.forecast import Forecaster

        return Forecaster
    raise AttributeError(f"module 'seqrnn' has no attribute {name!r}")
