"""Classification metrics as a local `evaluate` module: binary sentiment, or any number of classes.

`evaluate.load("accuracy")` fetches its script from the Hub, which fails offline; this module is loaded by path. The
figures are computed by trainers/metrics.py, as those of the evaluation report and of the comparison are.
"""

import datasets
import evaluate
import numpy as np

from trainers.metrics import label_metrics

_DESCRIPTION = """Accuracy, and precision, recall and F1: of the positive class (label 1) for two classes, their
macro averages over the classes for more."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids, from 0 to num_classes - 1.
    references (`list` of `int`): true class ids.
    num_classes (`int`, default 2): how many classes the labels come from (a class may be absent from a batch).
Returns:
    accuracy, precision, recall, f1 (`float`): with two classes, precision, recall and F1 of the positive class
    (label 1); with more, the unweighted mean of each over the classes (macro average). A ratio whose denominator is
    zero is 0.0.
Examples:
    >>> metric = evaluate.load("trainers/sentiment_metrics")
    >>> metric.compute(predictions=[1, 0, 1, 1], references=[1, 0, 0, 1])
    {'accuracy': 0.75, 'precision': 0.6666666666666666, 'recall': 1.0, 'f1': 0.8}
"""


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

    def _compute(self, predictions, references, num_classes: int = 2):
        predictions = np.asarray(predictions)
        references = np.asarray(references)
        if num_classes < 2:
            raise ValueError(f"sentiment_metrics needs two classes at least, got num_classes={num_classes}.")
        found = set(np.unique(np.concatenate([predictions, references])).tolist())
        if not found <= set(range(num_classes)):
            raise ValueError(f"sentiment_metrics takes class ids 0 to {num_classes - 1}; found {sorted(found)}.")
        return label_metrics(references, predictions, num_classes)
