"""seqrnn: modeling sequential data with recurrent neural networks.

Two scikit-learn estimators, each with a `book` preset (the chapter's exact model) and a `default`
one (the best measured on a 2-core CPU):

SentimentClassifier
    A many-to-one recurrent text classifier: IMDb's movie-review sentiment, or your own labelled
    texts with any labels (`fit(texts, labels)`, `predict`, `predict_proba`, `save`, `load`).
CharLanguageModel
    A many-to-many character-level language model: learns a text such as *Hamlet* and writes more
    in its style (`fit(text)`, `sample`, `evaluate`, `save`, `load`).

The same work from the shell: `seqrnn sentiment|charlm train|evaluate|predict|sample` (`seqrnn --help`).
The two estimators are imported lazily so that `import seqrnn` (and the CLI's `--help`) stay fast.
"""

__version__ = "0.1.0"

__all__ = ["SentimentClassifier", "CharLanguageModel", "__version__"]


def __getattr__(name: str):
    if name == "SentimentClassifier":
        from seqrnn.sentiment import SentimentClassifier

        return SentimentClassifier
    if name == "CharLanguageModel":
        from seqrnn.charlm import CharLanguageModel

        return CharLanguageModel
    raise AttributeError(f"module 'seqrnn' has no attribute {name!r}")
