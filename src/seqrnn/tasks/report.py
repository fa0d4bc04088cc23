"""What a classifier's evaluation tells a practitioner: precision, recall and F1 per class, their
averages, the confusion matrix, and a warning when the model ignores a class.

    summary = classification_summary(y_true, y_pred, clf.classes_)   # a dict of JSON values
    print(format_report(summary))                                     # a table to read
    plot_confusion_matrix(summary, "confusion.png")                  # a figure to look at

The figures are scikit-learn's (`classification_report` with ``zero_division=0``: a class never
predicted has precision 0, `confusion_matrix`), laid out for a report: one entry per class in the
model's class order, the class names as JSON values (IMDb's 0 and 1 stay integers).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from seqrnn.errors import InvalidInputError
from seqrnn.fileio import atomic_write_bytes

METRICS = ("precision", "recall", "f1")


def _json_value(value: Any) -> Any:
    """A NumPy scalar as the plain Python value (np.int64(1) -> 1, np.str_('a') -> 'a')."""
    return value.item() if isinstance(value, np.generic) else value


def _indices(labels: Sequence, index: dict, name: str) -> np.ndarray:
    values = [_json_value(v) for v in (labels.tolist() if isinstance(labels, np.ndarray) else list(labels))]
    unknown = sorted({repr(v) for v in values if v not in index})
    if unknown:
        raise InvalidInputError(f"{name} holds labels that are not among the classes: {', '.join(unknown[:5])} "
                                f"(the classes: {', '.join(map(repr, index))})")
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def classification_summary(y_true: Sequence, y_pred: Sequence, classes: Sequence) -> dict[str, Any]:
    """Per-class and averaged precision, recall, F1 and support, accuracy and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : sequences of labels
        The true and the predicted class of each text; every label is one of `classes`.
    classes : sequence
        The model's classes (`classes_`), in the order of the report and of the matrix.

    Returns
    -------
    dict
        ``classes`` (JSON values), ``n``, ``accuracy``, ``per_class`` (one
        ``{"class", "precision", "recall", "f1", "support", "predicted"}`` per class, in `classes`
        order; ``predicted``: how many texts the model gave that class), ``macro_avg`` and
        ``weighted_avg`` (``precision``, ``recall``, ``f1``, ``support``), ``confusion_matrix``
        (rows: true class, columns: predicted class, both in `classes` order) and ``warnings``
        (sentences, empty when the model predicts every class).
    """
    from sklearn.metrics import classification_report, confusion_matrix

    names = [_json_value(c) for c in (classes.tolist() if isinstance(classes, np.ndarray) else list(classes))]
    if len(names) < 2 or len(set(names)) != len(names):
        raise InvalidInputError(f"classes must be at least 2 distinct labels, got {names!r}")
    index = {c: i for i, c in enumerate(names)}
    true, pred = _indices(y_true, index, "y_true"), _indices(y_pred, index, "y_pred")
    if len(true) != len(pred):
        raise InvalidInputError(f"y_true has {len(true)} labels but y_pred has {len(pred)}")
    if not len(true):
        raise InvalidInputError("no labels: there is nothing to report on")
    keys = [f"class {i}" for i in range(len(names))]  # sklearn's keys; the names may repeat once made strings
    report = classification_report(true, pred, labels=list(range(len(names))), target_names=keys, output_dict=True,
                                   zero_division=0)
    matrix = confusion_matrix(true, pred, labels=list(range(len(names))))
    predicted = matrix.sum(axis=0)

    def entry(values: dict) -> dict:
        return {"precision": float(values["precision"]), "recall": float(values["recall"]),
                "f1": float(values["f1-score"]), "support": int(values["support"])}

    per_class = [{"class": name, **entry(report[key]), "predicted": int(count)}
                 for name, key, count in zip(names, keys, predicted)]
    n = len(true)
    return {"classes": names, "n": n, "accuracy": float((true == pred).mean()), "per_class": per_class,
            "macro_avg": entry(report["macro avg"]), "weighted_avg": entry(report["weighted avg"]),
            "confusion_matrix": matrix.tolist(), "warnings": _warnings(per_class, n)}


def _warnings(per_class: list[dict], n: int) -> list[str]:
    """A sentence when the model predicts one class for everything, or never predicts a class."""
    used = [row for row in per_class if row["predicted"]]
    if len(used) == 1:
        return [f"the model predicted only {_quoted(used[0]['class'])} for all {n} texts"]
    out = []
    for row in per_class:
        if not row["predicted"] and row["support"]:
            texts = "text is" if row["support"] == 1 else "texts are"
            out.append(f"the model never predicted {_quoted(row['class'])} ({row['support']} of the {n} {texts} "
                       f"{_quoted(row['class'])})")
    return out


def _quoted(name: Any) -> str:
    return f"'{name}'"


def format_report(summary: dict[str, Any], digits: int = 3) -> str:
    """A text table of `classification_summary`'s result: per class, averages, accuracy, then the
    confusion matrix with the class names as headers, then the warnings ("warning: ...")."""
    names = [str(c) for c in summary["classes"]]
    width = max(12, *(len(name) for name in names))
    cols = max(digits + 3, 9)
    header = f"{'':>{width}} {'precision':>{cols}} {'recall':>{cols}} {'f1-score':>{cols}} {'support':>{cols}}"
    lines = [header]

    def row(label: str, values: dict) -> str:
        scores = " ".join(f"{values[m]:>{cols}.{digits}f}" for m in METRICS)
        return f"{label:>{width}} {scores} {values['support']:>{cols}}"

    lines += [row(name, entry) for name, entry in zip(names, summary["per_class"])]
    lines.append("")
    lines.append(f"{'accuracy':>{width}} {'':>{cols}} {'':>{cols}} {summary['accuracy']:>{cols}.{digits}f} "
                 f"{summary['n']:>{cols}}")
    lines.append(row("macro avg", summary["macro_avg"]))
    lines.append(row("weighted avg", summary["weighted_avg"]))
    lines.append("")
    lines.append("confusion matrix (rows: true class, columns: predicted class)")
    matrix = summary["confusion_matrix"]
    cell = max(5, *(len(name) for name in names), *(len(str(v)) for r in matrix for v in r))
    lines.append(f"{'':>{width}} " + " ".join(f"{name:>{cell}}" for name in names))
    lines += [f"{name:>{width}} " + " ".join(f"{v:>{cell}}" for v in counts) for name, counts in zip(names, matrix)]
    lines += [f"warning: {w}" for w in summary.get("warnings", [])]
    return "\n".join(lines)


def plot_confusion_matrix(summary: dict[str, Any], path: str | Path, note: str | None = None) -> Path:
    """Write the confusion matrix as a PNG: each row normalised by its true class (the share of that
    class's texts given each prediction: the recall on the diagonal), the counts written in the cells.
    The file is written whole or not at all.

    Parameters
    ----------
    summary : dict
        `classification_summary`'s result.
    path : str or Path
        The PNG file to write (replaced if it exists).
    note : str, optional
        A line printed under the matrix: what `evaluate` prints beside the accuracy (the scores of
        a text classifier's network and n-gram model alone, or a series classifier's baseline).
    """
    buffer = io.BytesIO()
    confusion_figure(summary, note).savefig(buffer, format="png", dpi=100)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def confusion_figure(summary: dict[str, Any], note: str | None = None):
    """The matplotlib figure `plot_confusion_matrix` writes."""
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [str(c) for c in summary["classes"]]
    counts = np.asarray(summary["confusion_matrix"], dtype=np.int64)
    support = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, support, out=np.zeros(counts.shape), where=support > 0)
    k = len(names)
    size = min(4 + 0.6 * k, 20)
    fig = Figure(figsize=(size + 1.2, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_xticks(range(k), labels=names, rotation=45 if max(map(len, names)) > 6 else 0, ha="right"
                  if max(map(len, names)) > 6 else "center")
    ax.set_yticks(range(k), labels=names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"confusion matrix ({summary['n']} texts, accuracy {summary['accuracy']:.3f})")
    if k <= 30:
        font = max(6, 12 - k // 3)
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{counts[i, j]}\n{shares[i, j]:.0%}", ha="center", va="center", fontsize=font,
                        color="white" if shares[i, j] > 0.5 else "black")
    if note:
        lines = textwrap.wrap(note, width=int(14 * (size + 1.2)))
        fig.text(0.5, 0.01, "\n".join(lines), ha="center", va="bottom", fontsize=8)
        fig.tight_layout(rect=(0, 0.03 * (len(lines) + 1) * 6 / size, 1, 1))
    else:
        fig.tight_layout()
    return fig
