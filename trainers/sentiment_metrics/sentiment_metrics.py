"""Binary sentiment metrics as a local `evaluate` module.

`evaluate.load("accuracy")` fetches its script from the Hub, which fails offline; this module is loaded by path.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """Accuracy, and precision, recall and F1 of the positive class, for binary sentiment labels (0/1)."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted labels, 0 or 1.
    references (`list` of `int`): true labels, 0 or 1.
Returns:
    accuracy, precision, recall, f1 (`float`): precision, recall and F1 of the positive class (label 1); a ratio
    whose denominator is zero is 0.0.
Examples:
    >>> metric = evaluate.load("trainers/sentiment_metrics")
    >>> metric.compute(predictions=[1, 0, 1, 1], references=[1, 0, 0, 1])
    {'accuracy': 0.75, 'precision': 0.6666666666666666, 'recall': 1.0, 'f1': 0.8}
"""


def _ratio(numerator: int, denominator: int) -> float:
    return float(numerator / denominator) if denominator else 0.0


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SentimentMetrics(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references):
        predictions = np.asarray(predictions)
        references = np.asarray(references)
        if not set(np.unique(np.concatenate([predictions, references]))) <= {0, 1}:
            raise ValueError("sentiment_metrics takes binary labels: 0 (negative) and 1 (positive).")
        true_positives = int(((predictions == 1) & (references == 1)).sum())
        precision = _ratio(true_positives, int((predictions == 1).sum()))
        recall = _ratio(true_positives, int((references == 1).sum()))
        return {
            "accuracy": float((predictions == references).mean()),
            "precision": precision,
            "recall": recall,
            "f1": _ratio(2 * precision * recall, precision + recall),
        }
