"""The classification metrics, computed in one place: what `Trainer` reports at each evaluation (through the local
`evaluate` module trainers/sentiment_metrics), and the figures of the evaluation report and of the comparison."""

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import precision_recall_fscore_support


def class_scores(
    labels: Sequence[int], predictions: Sequence[int], num_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support of each class against all the others, classes 0 to `num_classes - 1`: a
    ratio whose denominator is zero is 0.0, and a class absent from both the labels and the predictions scores 0."""
    return precision_recall_fscore_support(labels, predictions, labels=list(range(num_classes)), zero_division=0)


def label_metrics(labels: Sequence[int], predictions: Sequence[int], num_classes: int = 2) -> dict[str, float]:
    """Accuracy, and precision, recall and F1: of the positive class (the last, label 1) for two classes, their
    unweighted means over the classes (macro averages) for more."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    precision, recall, f1, _ = class_scores(labels, predictions, num_classes)
    summarize = (lambda scores: scores[-1]) if num_classes == 2 else np.mean
    return {
        "accuracy": float((predictions == labels).mean()),
        "precision": float(summarize(precision)),
        "recall": float(summarize(recall)),
        "f1": float(summarize(f1)),
    }
