"""scripts/benchmark_long_reviews.py: each way of reading the reviews longer than a model reads, measured on real
reviews, and the way validation prefers made the folder's own cut, which every door then applies."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from transformers import AutoTokenizer, pipeline

from evaluation.long_reviews import cutting, write_truncation
from inference.predictor import load_predictor
from trainers.data import load_sentiment_splits

from ..conftest import PROJECT_ROOT, pipeline_scores

SCRIPT = PROJECT_ROOT / "scripts" / "benchmark_long_reviews.py"


def run_benchmark(folder, imdb_dataset, *extra) -> subprocess.CompletedProcess:
    command = [
        sys.executable, str(SCRIPT), str(folder), "--dataset_name", imdb_dataset, "--max_samples", "150",
        "--head_tokens", "64", "--chunk_overlap", "32", *map(str, extra),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)


def test_the_best_way_on_validation_becomes_the_folders_cut(trained_lstm_folder, imdb_dataset, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained_lstm_folder, folder, ignore=shutil.ignore_patterns("checkpoint-*"))
    completed = run_benchmark(folder, imdb_dataset, "--split", "validation", "--write_best")
    assert completed.returncode == 0, completed.stderr[-4000:]
    table = json.loads(completed.stdout[completed.stdout.index("{") :])
    assert [row["way"] for row in table["rows"]] == ["head", "tail", "head_tail", "chunks"]
    assert "| way of reading a long review |" in completed.stdout

    # The long reviews are those of the 150 validation reviews (as training carved them) over 256 tokens.
    validation = load_sentiment_splits(imdb_dataset, seed=42)["validation"].shuffle(seed=42).select(range(150))
    texts, labels = list(validation["text"]), np.array(validation["label"])
    lengths = np.array(
        [len(ids) for ids in AutoTokenizer.from_pretrained(folder, trust_remote_code=True)(texts)["input_ids"]]
    )
    long = lengths > 256
    assert table["reviews"] == 150 and table["long_reviews"] == long.sum() > 10
    assert table["saved_truncation"] == "head_tail"  # the default recipe's: configs/lstm.yaml

    # The way written is the best row, and the folder, loaded as any user loads it, now reads long reviews that way:
    # its pipeline labels them with exactly the accuracy the row reported.
    best = max(table["rows"], key=lambda row: row["accuracy"])
    if best["way"] == "chunks":
        assert table["written"] is None
        return
    assert table["written"] == {"truncation": best["way"], "head_tokens": best["head_tokens"]}
    classifier = pipeline("sentiment-analysis", model=str(folder), trust_remote_code=True)
    assert classifier.tokenizer.truncation == best["way"]
    scores = pipeline_scores(classifier, [text for text, is_long in zip(texts, long) if is_long])
    predicted = np.array([int(score["pos"] > score["neg"]) for score in scores])
    assert (predicted == labels[long]).mean() == pytest.approx(best["accuracy"])
    whole = pipeline_scores(classifier, texts)
    assert np.mean([int(s["pos"] > s["neg"]) == label for s, label in zip(whole, labels)]) == pytest.approx(
        best["split_accuracy"]
    )


def test_each_cut_is_the_one_asked_for_and_the_saved_one_comes_back(trained_lstm_folder, imdb_splits):
    predictor = load_predictor("model", str(trained_lstm_folder))
    review = max(imdb_splits["test"]["text"], key=len)
    whole = predictor.tokenizer(review, add_special_tokens=False)["input_ids"]
    assert len(whole) > 256
    with cutting(predictor, "tail", None):
        assert predictor.tokenizer(review, truncation=True)["input_ids"] == whole[-256:]
    with cutting(predictor, "head_tail", 64):
        assert predictor.tokenizer(review, truncation=True)["input_ids"] == whole[:64] + whole[-192:]
    with cutting(predictor, "head", None):
        assert predictor.tokenizer(review, truncation=True)["input_ids"] == whole[:256]
    saved_cut = whole[:128] + whole[-128:]  # the recipe's first 128 tokens and the rest from the end
    assert predictor.tokenizer(review, truncation=True)["input_ids"] == saved_cut
    assert (predictor.truncation, predictor.tokenizer.head_tokens) == ("head_tail", 128)
    with pytest.raises(ValueError, match="leaves no room"), cutting(predictor, "head_tail", 256):
        pass
    assert predictor.tokenizer(review, truncation=True)["input_ids"] == saved_cut


def test_chunks_and_test_split_choices_are_refused_with_a_reason(trained_lstm_folder, imdb_dataset, tmp_path):
    completed = run_benchmark(trained_lstm_folder, imdb_dataset, "--split", "test", "--write_best")
    assert completed.returncode == 2 and "chooses on the validation split only" in completed.stderr
    with pytest.raises(ValueError, match="at prediction time only"):
        write_truncation(trained_lstm_folder, "chunks", None)
    with pytest.raises(ValueError, match="no tokenizer_config.json"):
        write_truncation(tmp_path, "tail", None)
