import csv
import json
import subprocess
import sys

import pytest
from matplotlib.image import imread

from evaluation.report import MINIMAL_PAIRS_FILE, score_hard_cases
from inference.predictor import load_predictor

from ..conftest import PROJECT_ROOT

EVALUATE_SCRIPT = PROJECT_ROOT / "scripts" / "evaluate_model.py"


def evaluate(*args, cwd=PROJECT_ROOT):
    return subprocess.run(
        [sys.executable, str(EVALUATE_SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_report_from_the_model_equals_the_training_runs_test_metrics(trained_lstm_folder, imdb_dataset, tmp_path):
    """The folder was tested on the 300-review subset of seed 42: evaluating it there gives the same numbers."""
    results = json.loads((trained_lstm_folder / "all_results.json").read_text())
    ran = evaluate(trained_lstm_folder, "--dataset_name", imdb_dataset, "--max_samples", 300, "--output_dir", tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["samples"] == 300
    assert report["accuracy"] == pytest.approx(results["test_accuracy"], abs=1e-12)
    assert report["f1"] == pytest.approx(results["test_f1"], abs=1e-12)
    assert 0.5 < report["roc_auc"] <= 1 and 0 <= report["calibration"]["expected_calibration_error"] < 0.5
    assert report["source"]["reviews_per_second"] > 0
    assert sum(bucket["count"] for bucket in report["accuracy_by_length"]) == 300
    assert len(report["confident_errors"]) == 10 and report["confident_errors"][0]["text"]
    assert len(report["tricky_reviews"]["reviews"]) == 32
    # The project's minimal pairs by default, scored as the training run scored them for the model card.
    assert len(report["minimal_pairs"]["pairs"]) == results["minimal_pairs"]["count"] >= 120
    assert {key: value for key, value in report["minimal_pairs"].items() if key != "pairs"} == results["minimal_pairs"]
    for plot in ("confusion_matrix", "reliability_diagram", "confidence_histogram", "training_curves"):
        image = imread(tmp_path / f"{plot}.png")
        assert image.shape[0] > 200 and image.shape[1] > 200
    markdown = (tmp_path / "evaluation.md").read_text()
    assert f"{100 * results['test_accuracy']:.2f}%" in markdown and "## Tricky reviews" in markdown
    assert f"## Minimal pairs: {100 * results['minimal_pairs']['consistency']:.2f}% both right" in markdown
    assert "accuracy" in ran.stdout and f"Report: {tmp_path / 'evaluation.md'}" in ran.stderr
    assert f"minimal pairs both right {100 * results['minimal_pairs']['consistency']:.2f}%" in ran.stdout

    # The run's saved predictions are the same reviews in the same order: the same report without running the model.
    saved = evaluate(trained_lstm_folder, "--dataset_name", imdb_dataset, "--max_samples", 300,
                     "--predictions", trained_lstm_folder / "test_predictions.csv", "--output_dir", tmp_path / "saved")  # fmt: skip
    assert saved.returncode == 0, saved.stderr[-3000:]
    from_file = json.loads((tmp_path / "saved" / "evaluation.json").read_text())
    assert from_file["confusion_matrix"] == report["confusion_matrix"]
    assert from_file["roc_auc"] == pytest.approx(report["roc_auc"], abs=1e-5)


def test_predictions_of_other_reviews_and_bad_label_maps_are_refused(trained_lstm_folder, imdb_dataset, tmp_path):
    other_subset = evaluate(trained_lstm_folder, "--dataset_name", imdb_dataset, "--max_samples", 200,
                            "--predictions", trained_lstm_folder / "test_predictions.csv", "--output_dir", tmp_path)  # fmt: skip
    assert other_subset.returncode != 0 and "another split, subset or seed" in other_subset.stderr
    bad_map = evaluate(trained_lstm_folder, "--dataset_name", imdb_dataset, "--max_samples", 20,
                       "--label_map", "neg", "--output_dir", tmp_path)  # fmt: skip
    assert bad_map.returncode != 0 and "MODEL_LABEL=DATASET_LABEL" in bad_map.stderr
    missing = evaluate(tmp_path / "no-such-model", "--dataset_name", imdb_dataset, "--output_dir", tmp_path)
    assert missing.returncode != 0 and missing.stderr.startswith("error:")
    assert not (tmp_path / "evaluation.json").exists()


def test_pairs_of_ones_own_are_scored_and_a_bad_pairs_file_is_refused(trained_lstm_folder, imdb_dataset, tmp_path):
    shipped = [json.loads(line) for line in MINIMAL_PAIRS_FILE.read_text().splitlines()]
    # Eight of the project's pairs, written as a user's CSV: other column names are ignored, labels in any case.
    rows = [{**pair, "source": "mine", "original_label": pair["original_label"].lower()} for pair in shipped[::16]]
    with open(tmp_path / "mine.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["source", *shipped[0]])
        writer.writeheader()
        writer.writerows(rows)
    ran = evaluate(trained_lstm_folder, "--dataset_name", imdb_dataset, "--max_samples", 20,
                   "--pairs", tmp_path / "mine.csv", "--output_dir", tmp_path / "mine")  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    pairs = json.loads((tmp_path / "mine" / "evaluation.json").read_text())["minimal_pairs"]
    assert [pair["original"] for pair in pairs["pairs"]] == [pair["original"] for pair in shipped[::16]]
    assert pairs["count"] == 8 and set(pairs["by_phenomenon"]) == {"negation", "contrast", "intensity", "verdict"}
    # Read back as the project's own pairs (labels named in capitals), and labelled as the folder labels them.
    predictor = load_predictor("model", str(trained_lstm_folder))
    expected = score_hard_cases(predictor.predict_probabilities, predictor.labels, pairs=shipped[::16])[
        "minimal_pairs"
    ]
    for row, expected_row in zip(pairs["pairs"], expected["pairs"], strict=True):
        assert row == {**expected_row, "original_confidence": pytest.approx(expected_row["original_confidence"]),
                       "edited_confidence": pytest.approx(expected_row["edited_confidence"])}  # fmt: skip

    (tmp_path / "bad.csv").write_text("original,original_label,edited\nA. B.,POSITIVE,A. C.\n")
    bad = evaluate(trained_lstm_folder, "--dataset_name", imdb_dataset, "--max_samples", 20,
                   "--pairs", tmp_path / "bad.csv", "--output_dir", tmp_path / "bad")  # fmt: skip
    assert bad.returncode != 0 and not (tmp_path / "bad").exists()
    assert bad.stderr.strip() == (
        f"error: {tmp_path / 'bad.csv'} has no column edited_label (its columns: ['original', 'original_label', "
        "'edited']): a pairs file has the columns original, original_label, edited, edited_label (and optionally "
        "phenomenon)."
    )
