"""The classification report: scikit-learn's figures per class, the confusion matrix, the warnings, the plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from seqrnn.errors import InvalidInputError
from seqrnn.tasks.report import classification_summary, format_report, plot_confusion_matrix

CLASSES = np.array(["1-2", "3-4", "5"])  # as a model's classes_: NumPy strings


def three_classes(seed: int = 0):
    """400 labels of 3 classes; the predictions never say '5' (its texts go to '3-4')."""
    rng = np.random.default_rng(seed)
    y_true = rng.choice(CLASSES, 400, p=[0.5, 0.3, 0.2])
    y_pred = np.where(rng.random(400) < 0.8, y_true, rng.choice(CLASSES[:2], 400))
    y_pred[y_pred == "5"] = "3-4"
    return y_true, y_pred


def test_the_figures_are_scikit_learns():
    y_true, y_pred = three_classes()
    summary = classification_summary(y_true, y_pred, CLASSES)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=CLASSES, zero_division=0)
    assert summary["classes"] == ["1-2", "3-4", "5"] and summary["n"] == 400
    for k, entry in enumerate(summary["per_class"]):
        assert entry["class"] == CLASSES[k]
        assert entry["precision"] == pytest.approx(precision[k]) and entry["recall"] == pytest.approx(recall[k])
        assert entry["f1"] == pytest.approx(f1[k]) and entry["support"] == support[k]
        assert entry["predicted"] == int((y_pred == CLASSES[k]).sum())
    assert summary["per_class"][2]["precision"] == 0 and summary["per_class"][2]["predicted"] == 0
    for average, key in (("macro", "macro_avg"), ("weighted", "weighted_avg")):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=CLASSES, average=average, zero_division=0)
        assert [summary[key][m] for m in ("precision", "recall", "f1")] == pytest.approx([p, r, f])
        assert summary[key]["support"] == 400
    assert summary["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert summary["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=CLASSES).tolist()
    assert json.loads(json.dumps(summary)) == summary  # plain JSON values throughout


def test_a_class_never_predicted_is_named():
    y_true, y_pred = three_classes()
    summary = classification_summary(y_true, y_pred, CLASSES)
    support = int((y_true == "5").sum())
    assert summary["warnings"] == [f"the model never predicted '5' ({support} of the 400 texts are '5')"]
    text = format_report(summary)
    assert text.splitlines()[-1] == f"warning: the model never predicted '5' ({support} of the 400 texts are '5')"
    assert "precision" in text.splitlines()[0] and "macro avg" in text and "weighted avg" in text
    # the confusion matrix, with the class names as its headers
    lines = text.splitlines()
    start = lines.index("confusion matrix (rows: true class, columns: predicted class)")
    assert lines[start + 1].split() == ["1-2", "3-4", "5"]
    matrix = confusion_matrix(y_true, y_pred, labels=CLASSES)
    for k, name in enumerate(CLASSES):
        assert lines[start + 2 + k].split() == [name, *map(str, matrix[k])]
    row = next(line for line in lines if line.split()[:1] == ["5"])  # the per-class row of '5'
    assert row.split() == ["5", "0.000", "0.000", "0.000", str(support)]


def test_a_model_that_predicts_one_class_is_called_out():
    y_true, _ = three_classes()
    summary = classification_summary(y_true, np.full(400, "1-2"), CLASSES)
    assert summary["warnings"] == ["the model predicted only '1-2' for all 400 texts"]
    assert format_report(summary).endswith("warning: the model predicted only '1-2' for all 400 texts")


def test_integer_classes_stay_integers_and_a_good_model_has_no_warning():
    y = np.array([0, 1, 1, 0, 1])
    summary = classification_summary(y, y, np.array([0, 1]))
    assert summary["classes"] == [0, 1] and type(summary["classes"][0]) is int
    assert summary["warnings"] == [] and summary["accuracy"] == 1.0
    assert "warning" not in format_report(summary)
    # a class absent from the data and never predicted is not a fault of the model
    assert classification_summary(["a", "b"], ["a", "b"], ["a", "b", "c"])["warnings"] == []


def test_the_plot_is_a_png_written_whole(tmp_path):
    y_true, y_pred = three_classes()
    summary = classification_summary(y_true, y_pred, CLASSES)
    path = plot_confusion_matrix(summary, tmp_path / "confusion.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["confusion.png"]  # no temporary file left behind


def test_the_plot_carries_the_line_evaluate_prints_beside_the_accuracy(tmp_path):
    from seqrnn.tasks.classifier import format_parts
    from seqrnn.tasks.report import confusion_figure

    summary = classification_summary(*three_classes(), CLASSES)
    figures = {"accuracy": 0.5, "macro_f1": 0.25}
    note = format_parts({"network": figures, "ngram": figures}, 0.5)
    texts = " ".join(t.get_text() for t in confusion_figure(summary, note).texts).replace("\n", " ")
    assert note in texts and "confusion matrix" not in texts  # the title is the axes'
    assert not confusion_figure(summary).texts
    assert plot_confusion_matrix(summary, tmp_path / "c.png", note=note).stat().st_size > 0


def test_bad_labels_are_refused():
    with pytest.raises(InvalidInputError, match="y_pred holds labels that are not among the classes: 'x'"):
        classification_summary(["a", "b"], ["a", "x"], ["a", "b"])
    with pytest.raises(InvalidInputError, match="y_true has 2 labels but y_pred has 1"):
        classification_summary(["a", "b"], ["a"], ["a", "b"])
    with pytest.raises(InvalidInputError, match="nothing to report on"):
        classification_summary([], [], ["a", "b"])
