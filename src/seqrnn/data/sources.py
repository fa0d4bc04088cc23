"""What a command's `--data` names, read for a task: IMDb (by name, directory or archive) or your
own labelled file (`read_labelled_data`), and the documents of a word language model
(`read_documents`). The readers of each format live beside it (`imdb`, `labelled`, `corpus`).
"""

from __future__ import annotations

from pathlib import Path

from seqrnn.data.datasets import resolve
from seqrnn.data.imdb import imdb_format, read_imdb
from seqrnn.data.labelled import labelled_format, read_document_tokens, read_labelled_tokens
from seqrnn.errors import SeqrnnError

# --- IMDb ---------------------------------------------------------------------------------------


# ----- archives


# ----- CSV


# --- your own labelled texts ----------------------------------------------------------------------


# --- text corpora ---------------------------------------------------------------------------------


# --- what a command names: a dataset or a file, split for training --------------------------------


def read_labelled_data(target: str, split: str | None = None, text_column: str | None = None,
                       label_column: str | None = None, *, default_split: str = "test", with_unsup: bool = False):
    """(texts, labels, unlabelled texts) from what `--data` names.

    Your own labelled texts (a CSV, TSV or JSONL file, a folder of label subfolders) come as token
    indices (`read_labelled_tokens`), read whole: they have no splits, and a `split` other than 'all'
    is refused. IMDb (the name
    `imdb`, an aclImdb directory or archive) gives its `split` ('train', 'test' or 'all'; None:
    `default_split`), and with `with_unsup` the unlabelled reviews too."""
    path = Path(target)
    if path.exists() and labelled_format(path) is not None:
        if split not in (None, "all"):
            raise SeqrnnError(f"{target}: your own labelled data has no {split} split; it is used whole (drop `split`, "
                              "or give validation texts of your own)")
        data = read_labelled_tokens(path, text_column, label_column)
        return data.texts, data.labels, []
    if text_column or label_column:
        raise SeqrnnError(f"{target}: `text_column` and `label_column` apply to CSV, TSV and JSONL files")
    split = split or default_split
    splits = None if split == "all" else (split,)
    reviews = read_imdb(resolve(target), splits=(*splits, "unsup") if with_unsup and splits else splits)
    keep = reviews.labels >= 0
    if not keep.any():
        wanted = "/".join(splits) if splits else "any"
        raise SeqrnnError(f"{target}: no labelled reviews in the {wanted} split (present: "
                          f"{', '.join(reviews.splits_present) or 'none'})")
    labelled = [t for t, k in zip(reviews.texts, keep) if k]
    unlabelled = [t for t, k in zip(reviews.texts, keep) if not k]
    return labelled, reviews.labels[keep], unlabelled


def read_documents(target: str, split: str | None = None) -> tuple:
    """(labelled, unlabelled, labels) documents for a language model: IMDb reviews (`split` None: the
    training split's labelled reviews with their labels, and the unlabelled reviews; else that
    split's, all as 'labelled', without labels), or the non-empty lines of a text file (all
    'labelled', so that a share is held out; no labels), read as tokens (`read_document_tokens`). The labels are the ones a classifier
    trained on the same data reads, so that both hold out the same reviews (`heldout_split`)."""
    path = resolve(target)
    if imdb_format(path) is None:
        return read_document_tokens(path), [], None
    if split is None:
        labelled, labels, unlabelled = read_labelled_data(target, default_split="train", with_unsup=True)
        return labelled, unlabelled, labels
    reviews = read_imdb(path, splits=None if split == "all" else (split,))
    return list(reviews.texts), [], None


