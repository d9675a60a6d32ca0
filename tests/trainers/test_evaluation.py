import json

import numpy as np
import pytest
from matplotlib.image import imread

from trainers.evaluation import (
    accuracy_by_length,
    calibration,
    classification_metrics,
    confident_errors,
    evaluation_report,
    load_tricky_reviews,
    match_labels,
    to_dataset_classes,
    tricky_review_results,
    write_report,
)

# Eight reviews, hand-checked: predictions right except rows 2 and 6.
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
POSITIVE = np.array([0.1, 0.35, 0.65, 0.25, 0.95, 0.75, 0.3, 0.85])
PROBABILITIES = np.column_stack([1 - POSITIVE, POSITIVE])
CLASSES = ["NEGATIVE", "POSITIVE"]
# Four short reviews (5 words) and four of 150 words.
TEXTS = ["one two three four five"] * 4 + [" ".join(["word"] * 150)] * 4


def test_metrics_equal_hand_computed_values():
    metrics = classification_metrics(LABELS, PROBABILITIES, CLASSES)
    assert metrics["accuracy"] == 0.75
    assert metrics["confusion_matrix"] == [[3, 1], [1, 3]]
    for name in ("NEGATIVE", "POSITIVE"):
        assert metrics["per_class"][name] == {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4}
    assert metrics["f1"] == metrics["macro_f1"] == 0.75
    # 14 of the 16 (positive, negative) pairs have the positive review scored higher.
    assert metrics["roc_auc"] == pytest.approx(14 / 16)


def test_roc_auc_is_none_for_one_class():
    assert classification_metrics(LABELS[:4], PROBABILITIES[:4], CLASSES)["roc_auc"] is None


def test_expected_calibration_error_equals_hand_computed_value():
    result = calibration(LABELS, PROBABILITIES, bins=5)
    # (0.6, 0.8]: 5 reviews, confidence 0.70, accuracy 0.60; (0.8, 1.0]: 3 reviews, confidence 0.90, accuracy 1.
    filled = [entry for entry in result["bins"] if entry["count"]]
    assert [(entry["count"], entry["accuracy"]) for entry in filled] == [(5, 0.6), (3, 1.0)]
    assert [entry["mean_confidence"] for entry in filled] == pytest.approx([0.7, 0.9])
    assert result["expected_calibration_error"] == pytest.approx((5 * 0.1 + 3 * 0.1) / 8)
    with pytest.raises(ValueError, match="at least 1"):
        calibration(LABELS, PROBABILITIES, bins=0)


def test_errors_by_length_and_most_confident_errors():
    buckets = accuracy_by_length(LABELS, PROBABILITIES, TEXTS)
    assert [(bucket["words"], bucket["count"], bucket["errors"]) for bucket in buckets[:3]] == [
        ("0-99", 4, 1), ("100-199", 4, 1), ("200-399", 0, 0)
    ]  # fmt: skip
    assert buckets[-1]["words"] == "800+" and buckets[-1]["accuracy"] is None
    errors = confident_errors(LABELS, PROBABILITIES, TEXTS, CLASSES)
    assert [(error["index"], error["label"], error["predicted"]) for error in errors] == [
        (6, "POSITIVE", "NEGATIVE"), (2, "NEGATIVE", "POSITIVE")
    ]  # fmt: skip
    assert errors[0]["confidence"] == pytest.approx(0.7) and errors[0]["words"] == 150


@pytest.mark.parametrize(
    ("model_labels", "expected"),
    [
        (["NEGATIVE", "POSITIVE"], [0, 1]),
        (["POSITIVE", "NEGATIVE"], [1, 0]),
        (["neg", "pos"], [0, 1]),
        (["LABEL_0", "LABEL_1"], [0, 1]),
    ],
)
def test_model_labels_are_matched_by_name(model_labels, expected):
    assert match_labels(model_labels, CLASSES) == expected


def test_labels_of_one_dataset_are_matched_to_another_by_prefix_either_way():
    assert match_labels(["neg", "pos"], ["negative", "positive"]) == [0, 1]  # an IMDB model on SST-2
    assert match_labels(["negative", "positive"], ["neg", "pos"]) == [0, 1]  # an SST-2 model on IMDB
    with pytest.raises(ValueError, match="'neutral'"):  # a three-class model on a two-class dataset
        match_labels(["negative", "neutral", "positive"], ["neg", "pos"])


def test_unmatched_labels_are_refused_unless_mapped():
    with pytest.raises(ValueError, match="--label_map 1 star=DATASET_LABEL"):
        match_labels(["1 star", "5 stars"], CLASSES)
    assert match_labels(["1 star", "5 stars"], CLASSES, explicit={"1 star": "NEGATIVE", "5 stars": "POSITIVE"}) == [
        0,
        1,
    ]
    with pytest.raises(ValueError, match="maps to \\['POSITIVE'\\]"):
        match_labels(["negative", "neutral"], CLASSES, explicit={"neutral": "NEGATIVE"})
    with pytest.raises(ValueError, match="dataset labels \\['GOOD'\\]"):
        match_labels(["a", "b"], CLASSES, explicit={"a": "GOOD"})


def test_three_model_labels_add_up_into_the_dataset_classes():
    model_probabilities = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])  # negative, neutral, positive
    mapping = match_labels(["negative", "neutral", "positive"], CLASSES, explicit={"neutral": "NEGATIVE"})
    np.testing.assert_allclose(to_dataset_classes(model_probabilities, mapping, 2), [[0.7, 0.3], [0.7, 0.3]])


def test_the_tricky_reviews_suite_covers_the_hard_cases():
    reviews = load_tricky_reviews()
    categories = {review["category"] for review in reviews}
    assert {"negation", "mixed", "sarcasm", "contrast"} <= categories
    assert {review["label"] for review in reviews} == {"NEGATIVE", "POSITIVE"}
    assert {"text": "I didn't hate it, but I wouldn't watch it again.", "label": "NEGATIVE",
            "category": "contrast"} in reviews  # fmt: skip
    probabilities = np.tile([0.2, 0.8], (len(reviews), 1))  # a model that always says POSITIVE
    results = tricky_review_results(reviews, probabilities)
    positives = sum(review["label"] == "POSITIVE" for review in reviews)
    assert results["accuracy"] == pytest.approx(positives / len(reviews))
    assert results["by_category"]["sarcasm"] == 0.0


def test_a_malformed_tricky_review_is_refused(tmp_path):
    path = tmp_path / "tricky.jsonl"
    path.write_text(json.dumps({"text": "Fine.", "label": "GOOD", "category": "short"}) + "\n")
    with pytest.raises(ValueError, match="Line 1"):
        load_tricky_reviews(path)


def test_report_files_and_plots_are_written(tmp_path):
    report = evaluation_report(LABELS, PROBABILITIES, TEXTS, CLASSES, calibration_bins=5)
    history = [
        {"loss": 0.7, "step": 10, "epoch": 0.5}, {"eval_loss": 0.6, "eval_accuracy": 0.7, "step": 20, "epoch": 1.0},
        {"loss": 0.5, "step": 30, "epoch": 1.5}, {"eval_loss": 0.5, "eval_accuracy": 0.8, "step": 40, "epoch": 2.0},
    ]  # fmt: skip
    plots = write_report(report, tmp_path, title="hand-made", log_history=history)
    assert set(plots) == {"confusion_matrix", "reliability_diagram", "confidence_histogram", "training_curves"}
    for path in plots.values():
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert saved["accuracy"] == 0.75 and saved["calibration"]["expected_calibration_error"] == pytest.approx(0.1)
    markdown = (tmp_path / "evaluation.md").read_text()
    assert "| 8 | 75.00% | 75.00% | 75.00% | 0.8750 | 0.1000 |" in markdown
    assert "![reliability diagram](reliability_diagram.png)" in markdown
    # Without validation entries in the history there are no training curves.
    assert "training_curves" not in write_report(report, tmp_path / "again", title="x", log_history=history[:1])


def test_three_classes_get_macro_figures_a_per_class_table_and_a_three_by_three_matrix(tmp_path):
    classes = ["negative", "neutral", "positive"]
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array([
        [0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.3, 0.6], [0.1, 0.2, 0.7], [0.2, 0.1, 0.7],
    ])  # fmt: skip
    report = evaluation_report(labels, probabilities, ["a short text"] * 6, classes, calibration_bins=5)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 1, 1], [0, 0, 2]]
    # Per class F1: negative 2/3, neutral 1/2, positive 4/5; F1 is their mean for three classes.
    assert report["f1"] == report["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 4 / 5) / 3)
    assert report["roc_auc"] is None and list(report["per_class"]) == classes
    plots = write_report(report, tmp_path, title="three classes")
    markdown = (tmp_path / "evaluation.md").read_text()
    assert "| reviews | accuracy | F1 (macro) |" in markdown and "| | negative | neutral | positive |" in markdown
    assert "| neutral | 0 | 1 | 1 |" in markdown
    assert imread(plots["confusion_matrix"]).shape[1] > imread(plots["reliability_diagram"]).shape[1]
