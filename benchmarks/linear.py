"""The linear text baselines every text benchmark measures beside the classifier, on the texts themselves
(scikit-learn's own tokenizer, every word, whole texts): TF-IDF + logistic regression and NB-SVM."""

from __future__ import annotations

import time

import numpy as np


def tfidf_logistic(X, y, class_weight=None, C: float = 4.0):
    """TF-IDF of words and word pairs (min_df 2, sublinear tf) + logistic regression: a fitted pipeline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(min_df=2, ngram_range=(1, 2), sublinear_tf=True),
                         LogisticRegression(max_iter=2000, C=C, class_weight=class_weight)).fit(X, y)


class NBSVM:
    """Wang & Manning's NB-SVM with logistic regression: binary word and word-pair features scaled by
    their log-count ratio, one model per class against the rest when there are more than two."""

    def __init__(self, C: float = 1.0, class_weight=None):
        self.C, self.class_weight = C, class_weight

    def fit(self, X, y):
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = CountVectorizer(ngram_range=(1, 2), binary=True, min_df=1)
        x = self.vectorizer.fit_transform(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        targets = [self.classes_[1]] if len(self.classes_) == 2 else list(self.classes_)
        self.models = []
        for c in targets:
            positive = y == c
            p = np.asarray(x[positive].sum(axis=0)).ravel() + 1.0
            q = np.asarray(x[~positive].sum(axis=0)).ravel() + 1.0
            r = np.log((p / p.sum()) / (q / q.sum()))
            lr = LogisticRegression(C=self.C, max_iter=1000, class_weight=self.class_weight)
            self.models.append((r, lr.fit(x.multiply(r).tocsr(), positive.astype(int))))
        return self

    def decision_function(self, X):
        x = self.vectorizer.transform(X)
        scores = np.stack([lr.decision_function(x.multiply(r).tocsr()) for r, lr in self.models], axis=1)
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X):
        scores = self.decision_function(X)
        return self.classes_[(scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)]


def fit_baselines(X, y, class_weight=None, C: float = 4.0) -> list[tuple[str, object, float]]:
    """[(name, fitted model, seconds to fit)] for both baselines (`C`: the TF-IDF model's; NB-SVM's is 1)."""
    fitted = []
    for name, make in (("TF-IDF + logistic regression", lambda: tfidf_logistic(X, y, class_weight, C)),
                       ("NB-SVM (words + pairs)", lambda: NBSVM(class_weight=class_weight).fit(X, y))):
        start = time.perf_counter()
        model = make()
        fitted.append((name, model, time.perf_counter() - start))
    return fitted
