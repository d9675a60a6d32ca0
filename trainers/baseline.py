"""The reference lines of every comparison: linear models over n-grams (scikit-learn), which need no GPU and train in
a minute or two on all of IMDB, so any model of this project has to beat them to be worth its cost.

- `tfidf`: TF-IDF of words and word bigrams, logistic regression.

Each is trained by one procedure (`train_baseline`), with C, the inverse regularisation strength, chosen on
validation like every other hyperparameter here: the vectorizer is fitted on the training split, one classifier per
C of the baseline's grid is fitted on the training split, and the one with the best validation accuracy is kept as
it is. It is not refitted on train + validation: every row of a comparison trains on the same reviews. The test
split never reaches this module.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


def normalise(text: str) -> str:
    """Lower case, IMDB's `<br />` line breaks removed (as the LSTM's tokenizer does)."""
    return text.replace("<br />", " ").lower()


def tfidf_vectorizer() -> TfidfVectorizer:
    """Words and word bigrams seen in at least 2 reviews and at most 90% of them, log-scaled term frequencies."""
    return TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True)


@dataclass(frozen=True)
class Baseline:
    """How one baseline is made: its vectorizer, its classifier for a given C, and the C values tried."""

    vectorizer: Callable[[], object]
    classifier: Callable[[float], object]
    c_values: tuple[float, ...]


BASELINES = {
    "tfidf": Baseline(
        tfidf_vectorizer,
        lambda c: LogisticRegression(C=c, max_iter=2000),
        (1.0, 4.0, 16.0, 64.0),
    ),
}


def parameter_counts(classifier) -> tuple[int, int]:
    """(trainable, total): the weights and intercepts that logistic regression learns."""
    trainable = int(classifier.coef_.size + classifier.intercept_.size)
    return trainable, trainable


def train_baseline(
    name: str,
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    validation_texts: Sequence[str],
    validation_labels: Sequence[int],
    c_values: Sequence[float] | None = None,
) -> tuple[Pipeline, dict]:
    """Fits the baseline `name` of `BASELINES` on the training reviews once per C (its own grid unless `c_values` is
    given), and keeps the one with the best validation accuracy (ties go to the stronger regularisation).

    Returns it as a pipeline from texts to probabilities, and what a comparison reports: validation accuracy per C,
    the chosen C, parameter counts (`parameter_counts`), the vocabulary size and the wall time of the whole selection.
    """
    baseline = BASELINES[name]
    c_values = tuple(c_values or baseline.c_values)
    started = time.perf_counter()
    vectorizer = baseline.vectorizer()
    train_features = vectorizer.fit_transform(train_texts)
    validation_features = vectorizer.transform(validation_texts)
    accuracies, classifiers = {}, {}
    for c in c_values:
        classifier = baseline.classifier(c).fit(train_features, train_labels)
        accuracies[c] = float((classifier.predict(validation_features) == np.asarray(validation_labels)).mean())
        classifiers[c] = classifier
    best_c = max(c_values, key=lambda c: (accuracies[c], -c))
    trainable, total = parameter_counts(classifiers[best_c])
    return Pipeline([("vectorizer", vectorizer), ("classifier", classifiers[best_c])]), {
        "validation_accuracy_by_c": {str(c): accuracy for c, accuracy in accuracies.items()},
        "chosen_c": best_c,
        "eval_accuracy": accuracies[best_c],
        "num_parameters": total,
        "num_trainable_parameters": trainable,
        "vocabulary_size": len(vectorizer.vocabulary_),
        "train_runtime_seconds": time.perf_counter() - started,
        "train_samples": len(train_texts),
    }
