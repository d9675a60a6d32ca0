import numpy as np
import pytest
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


def test_non_binary_labels_are_refused():
    with pytest.raises(ValueError, match="binary"):
        load_sentiment_metrics().compute(predictions=[0, 2], references=[1, 0])


def test_compute_metrics_takes_the_argmax_of_logits():
    logits = np.array([[2.0, -1.0], [0.1, 0.3], [-3.0, 3.0]])
    scores = make_compute_metrics()(EvalPrediction(predictions=logits, label_ids=np.array([0, 0, 1])))
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["precision"] == pytest.approx(1 / 2)
    assert scores["recall"] == 1.0
