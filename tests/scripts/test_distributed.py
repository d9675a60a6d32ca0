import json
import math
import subprocess
import sys

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from transformers import pipeline

from trainers.data import load_sentiment_splits
from trainers.run_folder import read_predictions

from ..conftest import IMDB_CLASSES, LSTM_RECIPE, PROJECT_ROOT, TRAIN_SCRIPT

LAUNCH_CONFIGS = PROJECT_ROOT / "configs" / "accelerate"


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
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(LAUNCH_CONFIGS / "multi_gpu.yaml"),
        "--num_processes", "2", str(TRAIN_SCRIPT), str(LSTM_RECIPE),
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
    assert completed.stderr.count("Model folder:") == 1, "only the main process reports and writes"
    # The test predictions gathered from both processes are the test reviews', in the split's order.
    labels, probabilities, _ = read_predictions(output_dir / "test_predictions.csv")
    test_split = load_sentiment_splits(imdb_dataset, seed=42, max_test_samples=200)["test"]
    assert labels.tolist() == list(test_split["label"]) and probabilities.shape == (200, 2)
    assert ((probabilities.argmax(axis=1) == labels).mean()) == results["test_accuracy"]

    classifier = pipeline("sentiment-analysis", model=str(output_dir), trust_remote_code=True)
    predictions = classifier(list(imdb_splits["test"]["text"][:8]), truncation=True)
    assert {prediction["label"] for prediction in predictions} <= set(IMDB_CLASSES)
