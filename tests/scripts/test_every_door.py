"""Every door to a saved model gives the probabilities the training run reported.

The training run saves the class probabilities of each test review (`test_predictions.csv`), from which the card's
test figures are computed. Here the same test reviews, many longer than the model's maximum length, go through
`pipeline("sentiment-analysis")` in a fresh process without this project, through `scripts/predict.py`, and through
the REST server, for each approach: the LSTM (cut at its head), the verbalizer and a fine-tuned encoder (both keeping
a long review's first tokens and its end). All must agree with the saved probabilities to 1e-5.
"""

import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pytest

from inference.predictor import load_predictor
from inference.server_process import free_loopback_port, running_server
from trainers.data import load_sentiment_splits
from trainers.run_folder import TEST_PREDICTIONS_FILE, read_predictions

from ..conftest import HELPERS, PROJECT_ROOT, run_without_project

# The test subsets the fixtures' runs drew: (max_train_samples, max_test_samples) with the recipes' seed 42.
RUN_SUBSETS = {
    "trained_lstm_folder": (2000, 300),
    "verbalizer_mlp_folder": (600, 200),
    "verbalizer_mlm_folder": (600, 200),
    "finetuned_minilm_folder": (200, 64),
}
FOLDERS = list(RUN_SUBSETS)
TOLERANCE = 1e-5
API_KEY = "door-test-key"


def saved_test_run(folder_fixture: str, request, imdb_dataset: str):
    """The run's folder, its test reviews in order and the probabilities it saved for them."""
    folder = request.getfixturevalue(folder_fixture)
    max_train_samples, max_test_samples = RUN_SUBSETS[folder_fixture]
    test = load_sentiment_splits(
        imdb_dataset, seed=42, max_train_samples=max_train_samples, max_test_samples=max_test_samples
    )["test"]
    labels, probabilities, _ = read_predictions(folder / TEST_PREDICTIONS_FILE)
    assert labels.tolist() == test["label"], "these are the run's own test reviews, in its order"
    return folder, list(test["text"]), probabilities


def max_length_of(folder) -> int:
    return json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"]


@pytest.mark.parametrize("folder_fixture", FOLDERS)
def test_pipeline_in_a_fresh_process_gives_the_saved_probabilities(folder_fixture, request, imdb_dataset, tmp_path):
    folder, texts, saved = saved_test_run(folder_fixture, request, imdb_dataset)
    reviews_file = tmp_path / "reviews.json"
    reviews_file.write_text(json.dumps(texts))
    completed = run_without_project(
        HELPERS / "pipeline_probabilities.py", str(folder), str(reviews_file), cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    from_pipeline = np.array(json.loads(completed.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(from_pipeline, saved, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("folder_fixture", FOLDERS)
def test_predict_py_gives_the_saved_probabilities(folder_fixture, request, imdb_dataset, tmp_path):
    folder, texts, saved = saved_test_run(folder_fixture, request, imdb_dataset)
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))
    command = [
        sys.executable, str(PROJECT_ROOT / "scripts" / "predict.py"), "--model", str(folder), "--input", str(reviews),
        "--top_k", str(saved.shape[1]), "--batch_size", "16",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    labels = json.loads((folder / "config.json").read_text())["id2label"]
    order = [labels[str(index)] for index in range(saved.shape[1])]
    from_script = np.array(
        [[{s["label"]: s["score"] for s in r["scores"]}[label] for label in order] for r in records]
    )
    np.testing.assert_allclose(from_script, saved, atol=TOLERANCE, rtol=0)
    # Most of these reviews are longer than the model reads: the agreement is about the cut, not only the model.
    assert sum(len(text.split()) > max_length_of(folder) for text in texts) > len(texts) // 4


def test_the_rest_server_gives_the_saved_probabilities(request, imdb_dataset, tmp_path):
    runs = {name: saved_test_run(name, request, imdb_dataset) for name in FOLDERS}
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    models = [argument for name, (folder, _, _) in runs.items() for argument in ("--model", f"{name}={folder}")]
    command = [sys.executable, str(PROJECT_ROOT / "scripts" / "serve.py"), "--port", str(port), *models]
    env = {**os.environ, "SENTIMENT_API_KEYS": API_KEY}
    with running_server(command, f"{url}/health", tmp_path / "server.log", env):
        described = httpx.get(f"{url}/models", headers={"x-api-key": API_KEY}, timeout=30).json()["models"]
        for name, (folder, texts, saved) in runs.items():
            tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
            model = next(entry for entry in described if entry["name"] == name)
            assert (model["max_length"], model["truncation"], model["head_tokens"]) == (
                tokenizer_config["model_max_length"],
                tokenizer_config["truncation"],
                tokenizer_config["head_tokens"],
            )  # the server reports the model's real cut
            from_server = []
            for start in range(0, len(texts), 32):
                body = {"texts": texts[start : start + 32], "model": name, "top_k": saved.shape[1]}
                answer = httpx.post(f"{url}/predict", json=body, headers={"x-api-key": API_KEY}, timeout=120)
                assert answer.status_code == 200, answer.text
                labels = model["labels"]
                from_server += [
                    [{s["label"]: s["score"] for s in p["scores"]}[label] for label in labels]
                    for p in answer.json()["predictions"]
                ]
            np.testing.assert_allclose(np.array(from_server), saved, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("folder_fixture", FOLDERS)
def test_chunked_prediction_differs_from_the_cut_only_on_reviews_longer_than_the_maximum(
    folder_fixture, request, imdb_dataset
):
    folder, texts, _ = saved_test_run(folder_fixture, request, imdb_dataset)
    predictor = load_predictor("model", str(folder))
    texts = texts[:48]
    cut = predictor.predict_probabilities(texts, batch_size=16)
    chunked = predictor.predict_probabilities(texts, batch_size=16, chunk_overlap=8)
    whole_lengths = [len(ids) for ids in predictor.tokenizer(texts)["input_ids"]]
    longer = [length > predictor.max_length for length in whole_lengths]
    assert 0 < sum(longer) < len(texts)
    for row in (row for row, is_longer in enumerate(longer) if not is_longer):
        np.testing.assert_allclose(cut[row], chunked[row], rtol=0, atol=1e-6)
    # Read in windows, a longer review is scored on words the cut drops (a random encoder's scores move little).
    assert any(not np.array_equal(cut[row], chunked[row]) for row, is_longer in enumerate(longer) if is_longer)
