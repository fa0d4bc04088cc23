"""seqrnn: modeling sequential data with recurrent neural networks.

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
