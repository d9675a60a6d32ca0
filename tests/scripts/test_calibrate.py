"""Temperature scaling end to end: training calibrates every approach by default, `scripts/calibrate.py` calibrates a
folder trained without it, and the temperature travels through every door (a fresh process without this project,
`pipeline`, ONNX Runtime after `scripts/export_onnx.py`), while an uncalibrated folder still loads and works."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from safetensors.torch import load_file
from transformers import pipeline

from inference.predictor import load_predictor
from inference.torch_runtime import load_torch_model
from model_cards.recalibration import model_logits
from trainers.calibration import fit_temperature, negative_log_likelihood, softmax
from trainers.data import load_sentiment_splits
from trainers.metrics import calibration
from trainers.run_folder import (
    CALIBRATION_DIAGRAM_FILE,
    TEST_PREDICTIONS_FILE,
    read_predictions,
)

from ..conftest import (
    HELPERS,
    PROJECT_ROOT,
    exported_to_onnx,
    pipeline_scores,
    run_without_project,
    train_test_lstm,
)

CALIBRATE_SCRIPT = PROJECT_ROOT / "scripts" / "calibrate.py"
EVALUATE_SCRIPT = PROJECT_ROOT / "scripts" / "evaluate_model.py"
# The LSTM runs of conftest's `train_test_lstm`: 2,000 training reviews (200 for validation), 300 test reviews.
LSTM_SUBSETS = {"max_train_samples": 2000, "max_test_samples": 300}
# The layer each approach's training folds the temperature into.
TRAINED_FOLDERS = {
    "trained_lstm_folder": "classifier",
    "verbalizer_mlp_folder": "head.layers.8",  # the MLP (32, 16)'s output layer
    "verbalizer_mlm_folder": "head.label_words",
    "finetuned_minilm_folder": "classifier",  # BERT's
    "finetuned_modernbert_folder": "classifier",  # ModernBERT's, after its prediction head
}


def run_script(script, *args, cwd=PROJECT_ROOT) -> subprocess.CompletedProcess:
    command = [sys.executable, str(script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)


def one_line_error(completed: subprocess.CompletedProcess) -> str:
    assert completed.returncode == 1 and "Traceback" not in completed.stderr, completed.stderr[-3000:]
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and completed.stderr.strip().endswith(errors[0])
    return errors[0]


def lstm_splits(imdb_dataset):
    return load_sentiment_splits(imdb_dataset, seed=42, **LSTM_SUBSETS)


def logits_of_folder(folder, texts) -> np.ndarray:
    return model_logits(*load_torch_model(str(folder), "cpu"), texts).astype(np.float64)


@pytest.fixture(scope="module")
def uncalibrated_lstm_folder(imdb_dataset, tmp_path_factory):
    """The conftest LSTM trained the same way, but with `--calibrate_temperature false`: a folder as training wrote
    them before temperature scaling existed (its config has no temperature)."""
    output_dir = tmp_path_factory.mktemp("uncalibrated-lstm") / "model"
    return train_test_lstm(imdb_dataset, output_dir, "--calibrate_temperature", "false")


@pytest.fixture(scope="module")
def calibrated_by_script(uncalibrated_lstm_folder, imdb_dataset, tmp_path_factory):
    """A copy of the uncalibrated folder, calibrated by `scripts/calibrate.py`, and what the script printed."""
    folder = tmp_path_factory.mktemp("calibrated-lstm") / "model"
    shutil.copytree(uncalibrated_lstm_folder, folder, ignore=shutil.ignore_patterns("checkpoint-*"))
    completed = run_script(CALIBRATE_SCRIPT, folder, "--dataset_name", imdb_dataset)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return folder, completed.stdout


def test_calibrate_py_fits_on_the_runs_validation_split_and_records_it(
    calibrated_by_script, uncalibrated_lstm_folder, trained_lstm_folder, imdb_dataset
):
    folder, printed = calibrated_by_script
    config = json.loads((folder / "config.json").read_text())
    temperature, metrics = config["calibration_temperature"], config["calibration_metrics"]
    # The run's own validation split (its recipe's seed and subset), fitted again here by hand: the same T.
    splits = lstm_splits(imdb_dataset)
    validation = splits["validation"]
    logits = logits_of_folder(uncalibrated_lstm_folder, list(validation["text"]))
    labels = np.array(validation["label"])
    assert temperature == pytest.approx(fit_temperature(logits, labels), rel=1e-9)
    assert metrics["samples"] == len(validation) == 200 and metrics["folded_into"] == "classifier"
    assert metrics["nll_before"] == pytest.approx(negative_log_likelihood(logits, labels), rel=1e-6)
    assert metrics["nll_after"] == pytest.approx(negative_log_likelihood(logits, labels, temperature), rel=1e-6)
    assert metrics["nll_after"] <= metrics["nll_before"]  # validation NLL does not rise
    expected_line = (
        f"T = {temperature:.4f}; NLL {metrics['nll_before']:.4f} -> {metrics['nll_after']:.4f}, "
        f"ECE {metrics['ece_before']:.4f} -> {metrics['ece_after']:.4f}"
    )
    assert expected_line in printed
    # Training with calibration (conftest's folder, the same run otherwise) reaches the same temperature.
    trained = json.loads((trained_lstm_folder / "config.json").read_text())
    assert trained["calibration_temperature"] == pytest.approx(temperature, rel=1e-4)

    # Only the logit layer's weights changed, divided by T.
    old, new = load_file(uncalibrated_lstm_folder / "model.safetensors"), load_file(folder / "model.safetensors")
    assert old.keys() == new.keys()
    for name in old:
        expected = old[name] / temperature if name.startswith("classifier.") else old[name]
        np.testing.assert_allclose(new[name].numpy(), expected.numpy(), rtol=1e-6, atol=1e-9)

    # The results say it, the test predictions are rescaled (labels kept), the card states it.
    results = json.loads((folder / "all_results.json").read_text())
    assert results["calibration_temperature"] == temperature
    assert results["eval_nll_after_calibration"] == metrics["nll_after"]
    assert results["eval_ece_before_calibration"] == metrics["ece_before"]
    assert "test_loss" not in results and "test_loss_before_calibration" in results
    labels_file, saved, _ = read_predictions(folder / TEST_PREDICTIONS_FILE)
    test_logits = logits_of_folder(uncalibrated_lstm_folder, list(splits["test"]["text"]))
    assert labels_file.tolist() == splits["test"]["label"]
    # Rescaled from the six decimals the file keeps: close to, not exactly, the calibrated model's probabilities.
    np.testing.assert_allclose(saved, softmax(test_logits / temperature), atol=1e-5, rtol=0)
    assert (saved.argmax(1) == test_logits.argmax(1)).all()
    # The test split's figures, which the temperature fitted on validation never saw, before and after.
    test_labels = np.array(splits["test"]["label"])
    assert results["test_nll_before_calibration"] == pytest.approx(
        negative_log_likelihood(test_logits, test_labels), rel=1e-3
    )
    assert results["test_nll_after_calibration"] == pytest.approx(
        negative_log_likelihood(test_logits, test_labels, temperature), rel=1e-3
    )
    assert results["test_ece_after_calibration"] == pytest.approx(
        calibration(test_labels, softmax(test_logits / temperature))["expected_calibration_error"], abs=1e-4
    )
    assert (folder / CALIBRATION_DIAGRAM_FILE).stat().st_size > 10_000
    card = (folder / "README.md").read_text()
    assert f"T = {temperature:.4f}" in card and f"({CALIBRATION_DIAGRAM_FILE})" in card
    assert f"| before scaling | {metrics['nll_before']:.4f} | {metrics['ece_before']:.4f} |" in card
    assert (
        f"| {metrics['nll_after']:.4f} | {metrics['ece_after']:.4f} | {results['test_nll_after_calibration']:.4f} "
        f"| {results['test_ece_after_calibration']:.4f} |" in card
    )
    assert "\n# model\n" in card  # named as before


def test_the_temperature_travels_through_every_door(
    calibrated_by_script, uncalibrated_lstm_folder, imdb_dataset, tmp_path
):
    folder, _ = calibrated_by_script
    temperature = json.loads((folder / "config.json").read_text())["calibration_temperature"]
    texts = list(lstm_splits(imdb_dataset)["test"]["text"][:48])
    raw = logits_of_folder(uncalibrated_lstm_folder, texts)
    expected = softmax(raw / temperature)
    assert not np.allclose(expected, softmax(raw), atol=1e-3)  # the scaling is visible in the numbers
    assert (expected.argmax(1) == raw.argmax(1)).all()

    # A fresh process where this project cannot be imported, as a Hub user runs it.
    reviews_file = tmp_path / "reviews.json"
    reviews_file.write_text(json.dumps(texts))
    completed = run_without_project(
        HELPERS / "pipeline_probabilities.py", str(folder), str(reviews_file), cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    from_fresh_process = np.array(json.loads(completed.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(from_fresh_process, expected, atol=1e-5, rtol=0)

    # `pipeline` in this process.
    classifier = pipeline("sentiment-analysis", model=str(folder), trust_remote_code=True)
    from_pipeline = np.array([[scores["neg"], scores["pos"]] for scores in pipeline_scores(classifier, texts)])
    np.testing.assert_allclose(from_pipeline, expected, atol=1e-5, rtol=0)

    # ONNX Runtime, on the export of the calibrated folder.
    exported = exported_to_onnx(folder, tmp_path / "onnx-model")
    from_onnx = load_predictor("onnx", str(exported), backend="onnx").predict_probabilities(texts, batch_size=16)
    np.testing.assert_allclose(from_onnx, expected, atol=1e-4, rtol=0)


def test_an_uncalibrated_folder_still_loads_works_and_says_so(uncalibrated_lstm_folder, imdb_dataset, tmp_path):
    config = json.loads((uncalibrated_lstm_folder / "config.json").read_text())
    assert "calibration_temperature" not in config and "calibration_metrics" not in config
    texts = list(lstm_splits(imdb_dataset)["test"]["text"][:32])
    reviews_file = tmp_path / "reviews.json"
    reviews_file.write_text(json.dumps(texts))
    completed = run_without_project(
        HELPERS / "pipeline_probabilities.py", str(uncalibrated_lstm_folder), str(reviews_file), cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    _, saved, _ = read_predictions(uncalibrated_lstm_folder / TEST_PREDICTIONS_FILE)
    np.testing.assert_allclose(np.array(json.loads(completed.stdout.splitlines()[-1])), saved[:32], atol=1e-5)
    card = (uncalibrated_lstm_folder / "README.md").read_text()
    assert "## Calibration" not in card and "not a\n  calibrated probability" in card
    assert not (uncalibrated_lstm_folder / CALIBRATION_DIAGRAM_FILE).exists()


def test_the_evaluation_report_gives_both_sides_of_the_scaling(
    calibrated_by_script, uncalibrated_lstm_folder, imdb_dataset, tmp_path
):
    folder, _ = calibrated_by_script
    temperature = json.loads((folder / "config.json").read_text())["calibration_temperature"]
    reports = {}
    for name, model in (("calibrated", folder), ("uncalibrated", uncalibrated_lstm_folder)):
        ran = run_script(EVALUATE_SCRIPT, model, "--dataset_name", imdb_dataset, "--max_samples", 300,
                         "--output_dir", tmp_path / name)  # fmt: skip
        assert ran.returncode == 0, ran.stderr[-3000:]
        reports[name] = json.loads((tmp_path / name / "evaluation.json").read_text())
    calibrated, uncalibrated = reports["calibrated"], reports["uncalibrated"]
    assert "before_temperature_scaling" not in uncalibrated
    before = calibrated["before_temperature_scaling"]
    assert before["temperature"] == temperature
    # "Before" is what the uncalibrated model gives; the labels are the same.
    assert before["negative_log_likelihood"] == pytest.approx(uncalibrated["negative_log_likelihood"], abs=1e-5)
    ece = before["calibration"]["expected_calibration_error"]
    assert ece == pytest.approx(uncalibrated["calibration"]["expected_calibration_error"], abs=1e-5)
    assert calibrated["confusion_matrix"] == uncalibrated["confusion_matrix"]
    assert calibrated["negative_log_likelihood"] != pytest.approx(uncalibrated["negative_log_likelihood"], abs=1e-4)
    markdown = (tmp_path / "calibrated" / "evaluation.md").read_text()
    assert f"T = {temperature:.4f}" in markdown and f"| before scaling | {ece:.4f} |" in markdown


def test_calibrating_twice_a_missing_folder_or_missing_data_are_one_line_errors(
    calibrated_by_script, uncalibrated_lstm_folder, tmp_path
):
    folder, _ = calibrated_by_script
    before = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    again = one_line_error(run_script(CALIBRATE_SCRIPT, folder))
    assert "is already calibrated" in again and "T = " in again
    assert {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()} == before

    assert "No model at" in one_line_error(run_script(CALIBRATE_SCRIPT, tmp_path / "nowhere"))

    # The data cannot be read: the uncalibrated folder is left as it was, with nothing beside it.
    copy = tmp_path / "model"
    shutil.copytree(uncalibrated_lstm_folder, copy, ignore=shutil.ignore_patterns("checkpoint-*"))
    weights = (copy / "model.safetensors").read_bytes()
    error = one_line_error(run_script(CALIBRATE_SCRIPT, copy, "--dataset_name", tmp_path / "no-dataset"))
    assert "no-dataset" in error
    assert (copy / "model.safetensors").read_bytes() == weights
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("folder_fixture", list(TRAINED_FOLDERS))
def test_training_calibrates_every_approach(folder_fixture, request):
    folder = request.getfixturevalue(folder_fixture)
    config = json.loads((folder / "config.json").read_text())
    results = json.loads((folder / "all_results.json").read_text())
    metrics = config["calibration_metrics"]
    assert metrics["folded_into"] == TRAINED_FOLDERS[folder_fixture]
    assert results["calibration_temperature"] == config["calibration_temperature"] > 0
    assert results["eval_nll_after_calibration"] <= results["eval_nll_before_calibration"]
    assert metrics["samples"] == results["eval_samples"]
    # Validation and test were scored after the scaling: for these cross-entropy models, the loss is the NLL.
    assert results["eval_loss"] == pytest.approx(results["eval_nll_after_calibration"], rel=1e-4)
    assert results["test_loss"] == pytest.approx(results["test_nll_after_calibration"], rel=1e-4)
    # Before scaling: the test predictions' logits multiplied back by T.
    labels, probabilities, _ = read_predictions(folder / TEST_PREDICTIONS_FILE)
    unscaled = np.log(np.maximum(probabilities, 1e-12)) * results["calibration_temperature"]
    assert results["test_ece_before_calibration"] == pytest.approx(
        calibration(labels, softmax(unscaled))["expected_calibration_error"], abs=1e-4
    )
    assert (folder / CALIBRATION_DIAGRAM_FILE).is_file()
    assert "## Calibration" in (folder / "README.md").read_text()
