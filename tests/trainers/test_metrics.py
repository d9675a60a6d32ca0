import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support
from transformers import EvalPrediction

from trainers.training import load_sentiment_metrics, make_compute_metrics


def test_metrics_match_hand_computed_values():
    # 6 reviews: TP=2 (rows 0, 3), FP=1 (row 2), FN=1 (row 5), TN=2 (rows 1, 4).
    references = [1, 0, 0, 1, 0, 1]
    predictions = [1, 0, 1, 1, 0, 0]
    scores = load_sentiment_metrics().compute(predictions=predictions, references=references)
    assert scores == pytest.approx({"accuracy": 4 / 6, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})


def test_no_positive_prediction_gives_zero_precision_not_an_error():
    scores = load_sentiment_metrics().compute(predictions=[0, 0], references=[1, 0])
    assert scores == {"accuracy": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_class_ids_beyond_the_classes_are_refused():
    with pytest.raises(ValueError, match="class ids 0 to 1; found \\[0, 1, 2\\]"):
        load_sentiment_metrics().compute(predictions=[0, 2], references=[1, 0])


def test_three_classes_give_macro_averages_matching_scikit_learn():
    references = [0, 1, 2, 2, 1, 0, 2, 1]
    predictions = [0, 2, 2, 1, 1, 0, 2, 0]
    scores = load_sentiment_metrics().compute(predictions=predictions, references=references, num_classes=3)
    precision, recall, f1, _ = precision_recall_fscore_support(references, predictions, average="macro")
    assert scores == pytest.approx({"accuracy": 5 / 8, "precision": precision, "recall": recall, "f1": f1})
    # A class absent from a batch still counts in the average (as 0), as scikit-learn's labels= makes it.
    absent = load_sentiment_metrics().compute(predictions=[0, 1], references=[0, 1], num_classes=3)
    assert absent["f1"] == pytest.approx(2 / 3)


def test_compute_metrics_takes_the_argmax_of_logits():
    logits = np.array([[2.0, -1.0], [0.1, 0.3], [-3.0, 3.0]])
    scores = make_compute_metrics()(EvalPrediction(predictions=logits, label_ids=np.array([0, 0, 1])))
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["precision"] == pytest.approx(1 / 2)
    assert scores["recall"] == 1.0
