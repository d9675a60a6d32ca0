"""The reference line of every comparison: TF-IDF of words and word bigrams with logistic regression (scikit-learn).

It needs no GPU and trains in about a minute on all of IMDB, so any model of this project has to beat it to be worth
its cost. The regularisation strength is chosen on the validation split, like every other hyperparameter here.
"""

import time
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

# Inverse regularisation strengths tried; the best on validation accuracy is kept.
C_VALUES = (1.0, 4.0, 16.0, 64.0)


def normalise(text: str) -> str:
    """Lower case, IMDB's `<br />` line breaks removed (as the LSTM's tokenizer does)."""
    return text.replace("<br />", " ").lower()


def tfidf_vectorizer() -> TfidfVectorizer:
    """Words and word bigrams seen in at least 2 reviews and at most 90% of them, log-scaled term frequencies."""
    return TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True)


def train_tfidf_baseline(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    validation_texts: Sequence[str],
    validation_labels: Sequence[int],
    c_values: Sequence[float] = C_VALUES,
) -> tuple[Pipeline, dict]:
    """Fits one pipeline per C, keeps the one with the best validation accuracy.

    Returns it and what a comparison reports: validation accuracy per C, the chosen C, parameter count (one weight
    per vocabulary entry and class row, and the intercepts) and the wall time of the whole selection.
    """
    started = time.perf_counter()
    vectorizer = tfidf_vectorizer()
    train_features = vectorizer.fit_transform(train_texts)
    validation_features = vectorizer.transform(validation_texts)
    accuracies, classifiers = {}, {}
    for c in c_values:
        classifier = LogisticRegression(C=c, max_iter=2000).fit(train_features, train_labels)
        accuracies[c] = float((classifier.predict(validation_features) == np.asarray(validation_labels)).mean())
        classifiers[c] = classifier
    best_c = max(c_values, key=lambda c: (accuracies[c], -c))  # ties go to the stronger regularisation
    pipeline = Pipeline([("tfidf", vectorizer), ("classifier", classifiers[best_c])])
    classifier = classifiers[best_c]
    return pipeline, {
        "validation_accuracy_by_c": {str(c): accuracy for c, accuracy in accuracies.items()},
        "chosen_c": best_c,
        "eval_accuracy": accuracies[best_c],
        "num_parameters": int(classifier.coef_.size + classifier.intercept_.size),
        "num_trainable_parameters": int(classifier.coef_.size + classifier.intercept_.size),
        "vocabulary_size": len(vectorizer.vocabulary_),
        "train_runtime_seconds": time.perf_counter() - started,
        "train_samples": len(train_texts),
    }
