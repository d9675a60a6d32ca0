"""Shared fixtures: real IMDB reviews and a small LSTM folder trained by the real training script.

The dataset comes from `IMDB_DATASET` (a local folder or Hub id; default `stanfordnlp/imdb`), so tests never name a
machine's paths: CI and the README pass the local copy in.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainers.data import DEFAULT_DATASET, load_sentiment_splits

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = PROJECT_ROOT / "scripts" / "train.py"
LSTM_RECIPE = PROJECT_ROOT / "configs" / "lstm.yaml"
HELPERS = Path(__file__).resolve().parent / "helpers"


@pytest.fixture(scope="session")
def imdb_dataset() -> str:
    return os.environ.get("IMDB_DATASET", DEFAULT_DATASET)


@pytest.fixture(scope="session")
def imdb_splits(imdb_dataset):
    """600 real training reviews (540 train / 60 validation) and 200 real test reviews."""
    return load_sentiment_splits(imdb_dataset, seed=0, max_train_samples=600, max_test_samples=200)


@pytest.fixture(scope="session")
def trained_lstm_folder(imdb_dataset, tmp_path_factory) -> Path:
    """A small LSTM trained by `scripts/train.py` on 2,000 real reviews, run as a user would run it."""
    output_dir = tmp_path_factory.mktemp("lstm-run") / "model"
    command = [
        sys.executable, str(TRAIN_SCRIPT), str(LSTM_RECIPE),
        "--dataset_name", imdb_dataset,
        "--max_train_samples", "2000",
        "--max_test_samples", "300",
        "--max_length", "256",
        "--vocab_size", "8000",
        "--embedding_dim", "64",
        "--hidden_size", "64",
        "--pooling", "mean",
        "--learning_rate", "5e-3",
        "--per_device_train_batch_size", "16",
        "--num_train_epochs", "3",
        "--output_dir", str(output_dir),
        "--disable_tqdm", "true",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return output_dir


def run_without_project(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Runs `script` in a fresh Python process where this project cannot be imported, offline."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(cwd / "hf_modules"))
    command = [sys.executable, str(HELPERS / "run_without_project.py"), str(script), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="session")
def lstm_pipeline(trained_lstm_folder):
    """The trained LSTM through the ordinary `pipeline`: the reference every serving path must agree with."""
    from transformers import pipeline

    return pipeline("sentiment-analysis", model=str(trained_lstm_folder), trust_remote_code=True)


def pipeline_scores(classifier, texts: list[str]) -> list[dict[str, float]]:
    """`{label: probability}` for each review, from the pipeline with truncation at the model's max length."""
    results = classifier(texts, truncation=True, top_k=None)
    return [{entry["label"]: entry["score"] for entry in result} for result in results]


def one_line_reviews(texts: list[str]) -> list[str]:
    """Real reviews with their rare line breaks turned into spaces, for inputs that hold one review per line."""
    return [" ".join(text.split()) for text in texts]
