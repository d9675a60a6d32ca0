import json
import math
import subprocess
import sys

import numpy as np
import pytest
from accelerate.commands.config.config_args import load_config_from_file
from transformers import pipeline

from trainers.data import load_sentiment_splits
from trainers.run_folder import read_predictions

from ..conftest import IMDB_CLASSES, LSTM_RECIPE, PROJECT_ROOT, TRAIN_SCRIPT, TWO_CPU_PROCESSES, pipeline_scores

LAUNCH_CONFIGS = PROJECT_ROOT / "configs" / "accelerate"
PREDICT_SCRIPT = PROJECT_ROOT / "scripts" / "predict.py"


@pytest.mark.parametrize(
    "name, distributed_type, machines",
    [("single_device", "NO", 1), ("multi_gpu", "MULTI_GPU", 1), ("multi_node", "MULTI_GPU", 2), ("fsdp", "FSDP", 1)],
)
def test_launch_configs_are_valid_accelerate_configs(name, distributed_type, machines):
    config = load_config_from_file(str(LAUNCH_CONFIGS / f"{name}.yaml"))
    assert config.distributed_type.value == distributed_type
    assert config.num_machines == machines
    assert config.mixed_precision == "no", "precision belongs to the training recipe (bf16/fp16), not the launcher"


def test_two_processes_share_the_training_and_the_result_loads(imdb_dataset, tmp_path, imdb_splits):
    output_dir = tmp_path / "ddp"
    command = [
        *TWO_CPU_PROCESSES, str(TRAIN_SCRIPT), str(LSTM_RECIPE),
        "--dataset_name", imdb_dataset, "--max_train_samples", "640", "--max_test_samples", "200",
        "--num_train_epochs", "1", "--vocab_size", "4000", "--output_dir", str(output_dir),
        # No GPU here: the two processes run on the CPU and talk over gloo.
        "--use_cpu", "true", "--ddp_backend", "gloo", "--disable_tqdm", "true",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]

    results = json.loads((output_dir / "all_results.json").read_text())
    assert results["num_processes"] == 2
    # Each optimizer step consumed one batch per process: 576 reviews / (32 x 2) = 9 steps, not 18.
    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["global_step"] == math.ceil(576 / (32 * 2)) == 9
    # Metrics were gathered from both processes over the whole validation and test splits.
    assert (results["eval_samples"], results["test_samples"]) == (64, 200)
    # Temperature scaling too: fitted on the validation logits gathered from both processes.
    assert results["calibration_temperature"] > 0
    assert results["eval_nll_after_calibration"] <= results["eval_nll_before_calibration"]
    assert completed.stderr.count("Model folder:") == 1, "only the main process reports and writes"
    # The test predictions gathered from both processes are the test reviews', in the split's order.
    labels, probabilities, _ = read_predictions(output_dir / "test_predictions.csv")
    test_split = load_sentiment_splits(imdb_dataset, seed=42, max_test_samples=200)["test"]
    assert labels.tolist() == list(test_split["label"]) and probabilities.shape == (200, 2)
    assert ((probabilities.argmax(axis=1) == labels).mean()) == results["test_accuracy"]

    classifier = pipeline("sentiment-analysis", model=str(output_dir), trust_remote_code=True)
    predictions = classifier(list(imdb_splits["test"]["text"][:8]), truncation=True)
    assert {prediction["label"] for prediction in predictions} <= set(IMDB_CLASSES)
    # Each process scored its share of the test reviews with the same temperature as the saved model.
    saved_model = [
        [scores[label] for label in IMDB_CLASSES] for scores in pipeline_scores(classifier, list(test_split["text"]))
    ]
    np.testing.assert_allclose(np.array(saved_model), probabilities, atol=1e-5, rtol=0)


def test_two_processes_label_a_file_exactly_as_one_process_does(trained_lstm_folder, imdb_splits, tmp_path):
    texts = list(imdb_splits["train"]["text"])  # 540 real reviews: 8 blocks of 64 and a last one of 28
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join(json.dumps({"id": number, "review": text}) + "\n" for number, text in enumerate(texts)))
    labelling = ["--model", str(trained_lstm_folder), "--input", str(reviews), "--column", "review", "--top_k", "2"]
    one_process = subprocess.run(
        [sys.executable, str(PREDICT_SCRIPT), *labelling, "--output", str(tmp_path / "one.jsonl")],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )  # fmt: skip
    assert one_process.returncode == 0, one_process.stderr
    two_processes = subprocess.run(
        [*TWO_CPU_PROCESSES, str(PREDICT_SCRIPT), *labelling, "--device", "cpu", "--rows_in_memory", "64",
         "--output", str(tmp_path / "two.jsonl")],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )  # fmt: skip
    assert two_processes.returncode == 0, two_processes.stderr[-4000:]

    one = [json.loads(line) for line in (tmp_path / "one.jsonl").read_text().splitlines()]
    two = [json.loads(line) for line in (tmp_path / "two.jsonl").read_text().splitlines()]
    assert len(one) == len(two) == len(texts)
    labels = set(json.loads((trained_lstm_folder / "config.json").read_text())["id2label"].values())
    assert {record["label"] for record in one} == labels, "both labels occur among 540 real reviews"
    for alone, shared in zip(one, two):
        assert [entry["label"] for entry in shared["scores"]] == [entry["label"] for entry in alone["scores"]]
        assert [entry["score"] for entry in shared["scores"]] == pytest.approx(
            [entry["score"] for entry in alone["scores"]], abs=1e-5
        )
    # One progress bar, the main process's, over every process's reviews.
    assert "540/540" in two_processes.stderr and "review" in two_processes.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one.jsonl", "reviews.jsonl", "two.jsonl"]


def test_a_bad_row_stops_every_process_with_one_clear_error(trained_lstm_folder, imdb_splits, tmp_path):
    lines = [json.dumps({"text": text}) for text in imdb_splits["test"]["text"][:100]]
    lines.insert(90, '{"text": "unfinished')
    (tmp_path / "reviews.jsonl").write_text("\n".join(lines) + "\n")
    completed = subprocess.run(
        [*TWO_CPU_PROCESSES, str(PREDICT_SCRIPT), "--model", str(trained_lstm_folder), "--device", "cpu",
         "--input", str(tmp_path / "reviews.jsonl"), "--rows_in_memory", "32", "--output", str(tmp_path / "out.csv")],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )  # fmt: skip
    assert completed.returncode != 0
    message = f"error: Line 91 of {tmp_path / 'reviews.jsonl'} is not valid JSON"
    assert completed.stderr.count(message) == 1, completed.stderr[-4000:]
    assert not (tmp_path / "out.csv").exists()
