"""Checks of what a user gives the estimators: texts and labels, with errors that name the problem.

Every estimator takes texts (`check_texts`); the classifier takes labels too (`check_labels`),
turned into indices of its sorted classes (`class_indices`). The errors are `InvalidInputError`
(a ValueError) or `InvalidInputTypeError` (a TypeError), as scikit-learn's conventions expect,
and each names what it checks and the offending position: the argument (`X`, `y`, `X_val`, ...) in
Python, or what a command or the server passes as `name` (a file, a flag, a request field), so that
no user of the command line reads of an `X` or a `y`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from seqrnn.errors import InvalidInputError, InvalidInputTypeError
from seqrnn.text.tokens import TokenizedTexts


def check_texts(X: Any, name: str = "X", allow_empty: bool = False) -> "list[str] | TokenizedTexts":
    """The texts of `X` as a list of strings, or a ValueError / TypeError naming the problem.

    `X` is a sequence of strings: a list, a tuple, a 1-D array or a pandas Series; texts already
    tokenized (`seqrnn.text.tokens.TokenizedTexts`, e.g. from `seqrnn.data.labelled.read_labelled_tokens`)
    come back as they are. Refused: a
    single string (it would be read as one text per character), a DataFrame or any 2-D array (name
    the column), missing values (None, NaN), anything that is not a string, and, unless
    `allow_empty`, texts that are empty or only whitespace (there is nothing to classify).
    """
    if isinstance(X, TokenizedTexts):
        return X
    if isinstance(X, (str, bytes)):
        raise InvalidInputError(f"{name} is a single {'string' if isinstance(X, str) else 'bytes object'}; "
                                f"pass a list of texts, e.g. [text]")
    if hasattr(X, "columns"):
        columns = ", ".join(map(str, list(X.columns)[:5]))
        raise InvalidInputError(f"{name} is a DataFrame (columns: {columns}); pass its column of texts, "
                                f"e.g. df['review']")
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) != 1:
        raise InvalidInputError(f"{name} must be a 1-D sequence of texts, got an array of shape {tuple(shape)}")
    if isinstance(X, dict) or not hasattr(X, "__iter__"):
        raise InvalidInputTypeError(f"{name} must be a sequence of texts, got {type(X).__name__}")
    texts = list(X)
    empty = []
    for i, text in enumerate(texts):
        if isinstance(text, str):
            if not allow_empty and not text.strip():
                empty.append(i)
            continue
        if _is_missing(text):
            raise InvalidInputError(f"{name}[{i}] is missing ({text!r}); drop or fill the missing texts first")
        raise InvalidInputTypeError(f"{name}[{i}] is a {type(text).__name__}, not a string: {text!r:.60}")
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
        raise InvalidInputError(f"{name} holds {len(empty)} empty text(s) (at {shown}): there is nothing to classify "
                                "in them; drop them")
    return texts


def _is_missing(value: Any) -> bool:
    """None, NaN, pandas' NA and NaT."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def check_labels(y: Any, name: str = "y") -> np.ndarray:
    """`y` as a 1-D array of class labels, or a ValueError naming the problem.

    A column vector (n, 1) is flattened with scikit-learn's DataConversionWarning, as every
    scikit-learn classifier does; other 2-D labels, missing labels, continuous numbers (0.7) and
    labels of mixed kinds are refused.
    """
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import column_or_1d

    if y is None:
        raise InvalidInputError(f"{name} is None: a classifier requires y to be passed, but the target y is None "
                                "(one label per text)")
    if isinstance(y, (str, bytes)):
        raise InvalidInputError(f"{name} is a single string; pass one label per text")
    try:
        labels = column_or_1d(y, warn=True)
    except ValueError as exc:
        raise InvalidInputError(f"{name}: {exc} (one label per text: a classifier predicts one class)") from None
    if labels.dtype.kind in "Of":
        for i, value in enumerate(labels.tolist()):
            if _is_missing(value):
                raise InvalidInputError(f"{name}[{i}] is missing ({value!r}); every text needs a label")
    try:
        check_classification_targets(labels)
    except ValueError as exc:
        raise InvalidInputError(f"{name}: {exc} Labels are classes: strings or whole numbers.") from None
    return labels


MODEL_CLASSES = "the model does not know"


def class_indices(labels: np.ndarray, classes: np.ndarray, name: str = "y",
                  unknown_to: str = MODEL_CLASSES) -> np.ndarray:
    """The index in `classes` of each label; labels outside `classes` are refused, named (`name`
    holds labels `unknown_to`: ...)."""
    index = {c: i for i, c in enumerate(classes.tolist())}
    values = labels.tolist()
    unknown = sorted({repr(v) for v in values if v not in index})
    if unknown:
        raise InvalidInputError(f"{name} holds labels {unknown_to}: {', '.join(unknown[:5])} "
                                f"({'its' if unknown_to == MODEL_CLASSES else 'known'} classes: "
                                f"{', '.join(map(repr, classes.tolist()))})")
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def json_classes(classes: np.ndarray) -> list:
    """The classes as JSON values (NumPy's integers become ints, its strings strs)."""
    return [c.item() if isinstance(c, np.generic) else c for c in classes]


def sorted_classes(labels: np.ndarray, name: str = "y") -> np.ndarray:
    """The distinct labels of an object array, sorted (scikit-learn's `unique_labels`)."""
    from sklearn.utils.multiclass import unique_labels

    try:
        return unique_labels(labels)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name}: {exc}") from None


def training_classes(labels: np.ndarray, name: str = "y") -> np.ndarray:
    """The sorted classes of training labels, refused when there is only one (`name` holds a
    single class)."""
    classes = sorted_classes(labels, name)
    if len(classes) < 2:
        raise InvalidInputError(f"{name} holds a single class ({json_classes(classes)[0]!r}): a classifier needs at "
                                "least 2 classes")
    return classes
