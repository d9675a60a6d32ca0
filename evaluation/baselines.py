"""The reference lines of every comparison: linear models over n-grams (scikit-learn), which need no GPU and train in
a minute or two on all of IMDB, so any model of this project has to beat them to be worth its cost.

- `tfidf`: TF-IDF of words and word bigrams, logistic regression.
- `nbsvm`: binarised 1-3-grams of words and punctuation marks, each scaled by its log-count ratio, then logistic
  regression (Wang & Manning 2012's NBSVM with logistic regression in place of the SVM; Mesnil et al. 2015 report
  91.87% on IMDB's test reviews for NBSVM over 1-3-grams).

Both are trained by one procedure (`train_baseline`), with C, the inverse regularisation strength, chosen on
validation like every other hyperparameter here: the vectorizer is fitted on the training split, one classifier per
C of the baseline's grid is fitted on the training split (the log-count ratios too), and the one with the best
validation accuracy is kept as it is. It is not refitted on train + validation: every row of a comparison trains on
the same reviews. The test split reaches this module only to be labelled by a baseline that teaches a distilled
LSTM (`fit_baseline_teacher`), for the record.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from datasets import Dataset
from scipy import sparse
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm
from transformers.utils import logging

from inference.labelling import LabellingProcesses
from trainers.distillation import NO_LABEL, FittedTeacher
from trainers.tokenizer import WORD_OR_PUNCTUATION

logger = logging.get_logger(__name__)


def normalise(text: str) -> str:
    """Lower case, IMDB's `<br />` line breaks removed (as the LSTM's tokenizer does)."""
    return text.replace("<br />", " ").lower()


def tfidf_vectorizer() -> TfidfVectorizer:
    """Words and word bigrams seen in at least 2 reviews and at most 90% of them, log-scaled term frequencies."""
    return TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True)


def ngram_presence_vectorizer() -> CountVectorizer:
    """Whether each 1-, 2- and 3-gram occurs (1 or 0), over the words and punctuation marks of the LSTM's tokenizer
    (`WORD_OR_PUNCTUATION`: "didn't" is one word, "!!" two marks); every n-gram of the training reviews is kept, as
    NBSVM does."""
    return CountVectorizer(preprocessor=normalise, token_pattern=WORD_OR_PUNCTUATION, ngram_range=(1, 3), binary=True)


def log_count_ratio(features, in_class: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """NBSVM's r = log((p / |p|1) / (q / |q|1)) for each feature (column of `features`), where p is `alpha` plus the
    feature's sum over the rows in the class (`in_class`, one boolean per row) and q is `alpha` plus its sum over
    the other rows."""
    in_class = np.asarray(in_class, dtype=bool)
    p = alpha + np.asarray(features[in_class].sum(axis=0), dtype=np.float64).ravel()
    q = alpha + np.asarray(features[~in_class].sum(axis=0), dtype=np.float64).ravel()
    return np.log(p / p.sum()) - np.log(q / q.sum())


class NBLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression over features scaled by their log-count ratios (`log_count_ratio`), counted on the rows
    given to `fit` (the training split) only.

    Two classes: one ratio per feature, of the second class (`classes_[1]`) against the first, and one logistic
    regression over x ⊙ r. Three classes or more: one such model per class against all the others, each with its
    own ratios, and probabilities the per-class ones normalised to sum to 1 (as scikit-learn's
    `OneVsRestClassifier`). Since (x ⊙ r) · w = x · (r ⊙ w), prediction needs no scaled copy of the features.

    `coef_` and `intercept_` are what the logistic regressions learned (one row per model), `ratios_` the log-count
    ratios (one row per model).
    """

    def __init__(self, C: float = 1.0, alpha: float = 1.0):
        self.C = C
        self.alpha = alpha

    def fit(self, features, labels):
        features, labels = sparse.csr_matrix(features), np.asarray(labels)
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError(f"Two classes at least are needed, got {self.classes_.tolist()}.")
        positives = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        self.ratios_ = np.vstack([log_count_ratio(features, labels == positive, self.alpha) for positive in positives])
        coefficients, intercepts = [], []
        for positive, ratios in zip(positives, self.ratios_):
            # The dual problem of liblinear: far fewer reviews than n-grams. A fixed random_state (it orders the
            # coordinate descent) makes the fit repeat exactly.
            model = LogisticRegression(C=self.C, solver="liblinear", dual=True, max_iter=1000, random_state=0)
            model.fit(features.multiply(ratios).tocsr(), labels == positive)
            coefficients.append(model.coef_[0])
            intercepts.append(model.intercept_[0])
        self.coef_, self.intercept_ = np.vstack(coefficients), np.asarray(intercepts)
        return self

    def decision_function(self, features) -> np.ndarray:
        """The logistic regressions' scores: one per row for two classes, one per row and class otherwise."""
        scores = np.asarray(features @ (self.ratios_ * self.coef_).T) + self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict_proba(self, features) -> np.ndarray:
        probabilities = expit(self.decision_function(features))
        if len(self.classes_) == 2:
            return np.column_stack([1 - probabilities, probabilities])
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self, features) -> np.ndarray:
        return self.classes_[self.predict_proba(features).argmax(axis=1)]


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
    "nbsvm": Baseline(
        ngram_presence_vectorizer,
        lambda c: NBLogisticRegression(C=c),
        (0.01, 0.03, 0.1, 0.3, 1.0),
    ),
}


def parameter_counts(classifier) -> tuple[int, int]:
    """(trainable, total): the weights and intercepts that logistic regression learns; the log-count ratios of an
    `NBLogisticRegression`, counted from the training reviews rather than learned, count in the total only."""
    trainable = int(classifier.coef_.size + classifier.intercept_.size)
    return trainable, trainable + int(getattr(classifier, "ratios_", np.empty(0)).size)


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


def out_of_fold_probabilities(pipeline: Pipeline, texts: Sequence[str], labels: np.ndarray, folds: int) -> np.ndarray:
    """Each review's probabilities from a copy of `pipeline` (its vectorizer and classifier, as configured) fitted on
    the other folds only (stratified, fixed shuffle): what the pipeline says of reviews it never read."""
    probabilities = np.empty((len(texts), len(pipeline.classes_)), dtype=np.float32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for fitted_on, held_out in tqdm(splitter.split(texts, labels), total=folds, desc="out-of-fold fits"):
        fold_pipeline = clone(pipeline).fit([texts[index] for index in fitted_on], labels[fitted_on])
        probabilities[held_out] = fold_pipeline.predict_proba([texts[index] for index in held_out])
    return probabilities


def fit_baseline_teacher(
    processes: LabellingProcesses, name: str, transfer: Dataset, validation: Dataset, test: Dataset, folds: int = 1
) -> FittedTeacher:
    """The baseline `name` as a distillation teacher (`trainers.distillation`): `train_baseline` on the transfer set's
    training reviews (those with a gold label) and the validation reviews, then its probabilities for the validation
    reviews, the transfer set and the test reviews. With `folds` > 1, the training reviews' probabilities are
    `out_of_fold_probabilities` at the chosen C instead of the answers it learned them with (a linear model over
    millions of n-grams fits its training reviews almost exactly). Under `accelerate launch` the main process fits it
    and shares them. Its name in results is the baseline's, its C and its folds, e.g. "nbsvm (C=1.0, 5 folds)"."""
    if name not in BASELINES:
        raise ValueError(f"Unknown baseline teacher {name!r}: choose among {sorted(BASELINES)}.")
    fitted = None
    if processes.is_main_process:
        started = time.perf_counter()
        gold = np.asarray(transfer["label"])
        texts = transfer["text"]
        has_gold = gold != NO_LABEL
        gold_texts = [text for text, kept in zip(texts, has_gold) if kept]
        pipeline, report = train_baseline(name, gold_texts, gold[has_gold], validation["text"], validation["label"])
        logger.info(
            f"Baseline teacher {name}: C = {report['chosen_c']}, validation accuracy {report['eval_accuracy']:.4f}."
        )
        validation_probabilities, transfer_probabilities, test_probabilities = (
            pipeline.predict_proba(reviews).astype(np.float32) for reviews in (validation["text"], texts, test["text"])
        )
        described = f"C={report['chosen_c']}"
        if folds > 1:
            transfer_probabilities[has_gold] = out_of_fold_probabilities(pipeline, gold_texts, gold[has_gold], folds)
            described += f", {folds} folds"
        fitted = FittedTeacher(
            f"{name} ({described})",
            validation_probabilities,
            transfer_probabilities,
            test_probabilities,
            time.perf_counter() - started,
        )
    (fitted,) = processes.broadcast([fitted])
    return fitted
