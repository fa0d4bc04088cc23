"""Data: named datasets, files of rows, labelled texts, corpora, the held-out split."""
