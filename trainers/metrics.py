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


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> dict:
    """Expected calibration error over `bins` equal-width bins of confidence (the top probability), and the bins.

    ECE is the mean over reviews of |accuracy - confidence| of their bin: 0 when a model that says 80% is right
    80% of the time.
    """
    if bins < 1:
        raise ValueError(f"The number of calibration bins must be at least 1, got {bins}.")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds confidences in (edges[i], edges[i + 1]]; a confidence of exactly 0 joins the first bin.
    bin_of = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    table, error = [], 0.0
    for index in range(bins):
        members = bin_of == index
        count = int(members.sum())
        entry = {"lower": float(edges[index]), "upper": float(edges[index + 1]), "count": count}
        if count:
            entry["mean_confidence"] = float(confidence[members].mean())
            entry["accuracy"] = float(correct[members].mean())
            error += count * abs(entry["accuracy"] - entry["mean_confidence"])
        table.append(entry)
    return {"expected_calibration_error": error / len(confidence), "bins": table}
