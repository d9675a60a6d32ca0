"""A training run killed mid-way resumes where its last checkpoint left it and ends as if never interrupted; early
stopping stops a run."""

import json
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import LSTM_RECIPE, PROJECT_ROOT, TRAIN_SCRIPT

# A few hundred real reviews and a tiny LSTM, saved every epoch: seconds per epoch.
TINY = [
    "--max_train_samples", "300", "--max_test_samples", "100", "--max_length", "128", "--head_tokens", "32", "--vocab_size", "2000",
    "--embedding_dim", "16", "--hidden_size", "16", "--per_device_train_batch_size", "16",
    "--num_train_epochs", "3", "--save_strategy", "epoch", "--disable_tqdm", "true",
]  # fmt: skip


def train_command(imdb_dataset, output_dir, *options):
    return [sys.executable, str(TRAIN_SCRIPT), str(LSTM_RECIPE), "--dataset_name", imdb_dataset,
            "--output_dir", str(output_dir), *TINY, *options]  # fmt: skip


def train(imdb_dataset, output_dir, *options) -> dict:
    completed = subprocess.run(
        train_command(imdb_dataset, output_dir, *options),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads((output_dir / "all_results.json").read_text())


def kill_after_first_checkpoint(command: list[str], output_dir) -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT)
    try:
        deadline = time.monotonic() + 120
        while not list(output_dir.glob("checkpoint-*/trainer_state.json")):
            assert process.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


# The semi-supervised recipe's training: batches of unlabeled reviews (virtual adversarial training) and averaged
# weights, each of which a checkpoint must carry.
SEMI_SUPERVISED = [
    "--virtual_adversarial_epsilon", "5", "--max_unlabeled_samples", "100", "--per_device_unlabeled_batch_size", "8",
    "--weight_averaging_decay", "0.9",
]  # fmt: skip


@pytest.mark.parametrize("options", [[], SEMI_SUPERVISED], ids=["default", "semi_supervised"])
def test_a_killed_run_resumes_to_the_results_of_an_uninterrupted_one(imdb_dataset, tmp_path, options):
    uninterrupted = train(imdb_dataset, tmp_path / "uninterrupted", *options)

    output_dir = tmp_path / "killed"
    kill_after_first_checkpoint(train_command(imdb_dataset, output_dir, *options), output_dir)
    top_level = {path.name for path in output_dir.iterdir()}
    assert not top_level & {"all_results.json", "model.safetensors", "config.json", "README.md"}, top_level
    assert {name for name in top_level if name.startswith("checkpoint-")}

    resumed = train(imdb_dataset, output_dir, *options, "--resume_from_checkpoint", "true")
    assert 1 <= resumed["resumed_at_epoch"] < 3, "it resumed from a checkpoint, it did not start again"
    # The checkpoint holds the weights, optimizer, scheduler, RNG states and the epoch reached, and the data order
    # of each epoch follows the seed: the resumed run computes what the uninterrupted one did, to the bit.
    compared = [key for key in uninterrupted if key.startswith(("eval_", "test_")) and "per_second" not in key]
    compared = [key for key in compared if "runtime" not in key]
    assert {key: resumed[key] for key in compared} == {key: uninterrupted[key] for key in compared}
    assert resumed["epochs"] == uninterrupted["epochs"] == 3
    predictions = [folder / "test_predictions.csv" for folder in (output_dir, tmp_path / "uninterrupted")]
    assert predictions[0].read_text() == predictions[1].read_text()
    vocabularies = [json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]
                    for folder in (output_dir, tmp_path / "uninterrupted")]  # fmt: skip
    assert vocabularies[0] == vocabularies[1]
    assert "resume_from_checkpoint" not in (output_dir / "training_recipe.yaml").read_text()
    assert not (output_dir / "unfinished").exists()


def test_resuming_without_a_checkpoint_is_a_one_line_error(imdb_dataset, tmp_path):
    for requested, named in (("true", str(tmp_path / "fresh")), (str(tmp_path / "checkpoint-9"), "checkpoint-9")):
        completed = subprocess.run(
            train_command(imdb_dataset, tmp_path / "fresh", "--resume_from_checkpoint", requested),
            capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
        )  # fmt: skip
        assert completed.returncode != 0
        assert completed.stderr.strip().startswith("error:") and len(completed.stderr.strip().splitlines()) == 1
        assert named in completed.stderr and "Traceback" not in completed.stderr


def test_early_stopping_stops_a_run_that_does_not_improve(imdb_dataset, tmp_path):
    # A learning rate of 0 leaves validation accuracy where it started: patience 1 ends the run after epoch 2.
    results = train(
        imdb_dataset, tmp_path / "stopped", "--learning_rate", "0", "--early_stopping_patience", "1",
        "--num_train_epochs", "5",
    )  # fmt: skip
    assert results["epochs"] == 2 < 5
