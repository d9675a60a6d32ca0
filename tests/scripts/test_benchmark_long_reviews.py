"""scripts/benchmark_long_reviews.py: each way of reading the reviews longer than a model reads, measured on real
reviews, and the way validation prefers made the folder's own cut, which every door then applies."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from transformers import AutoTokenizer, pipeline

from evaluation.long_reviews import Way, cutting, write_reading
from inference.predictor import load_predictor
from trainers.data import load_sentiment_splits
from trainers.run_folder import TEST_PREDICTIONS_FILE, read_predictions, read_results

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
    assert {key: table["written"][key] for key in ("way", "head_tokens", "chunk_overlap")} == {
        key: best[key] for key in ("way", "head_tokens", "chunk_overlap")
    }
    if best["way"] == "chunks":  # not pipeline's to read: the next test follows windows through the other doors
        return
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


def test_a_test_split_choice_and_a_folder_without_a_tokenizer_are_refused(trained_lstm_folder, imdb_dataset, tmp_path):
    completed = run_benchmark(trained_lstm_folder, imdb_dataset, "--split", "test", "--write_best")
    assert completed.returncode == 2 and "chooses on the validation split only" in completed.stderr
    with pytest.raises(ValueError, match="no tokenizer_config.json"):
        write_reading(tmp_path, Way("tail"))


def test_windows_chosen_on_validation_are_read_by_the_projects_doors_and_rescore_the_test_split(
    trained_lstm_folder, imdb_dataset, tmp_path
):
    folder = tmp_path / "model"
    shutil.copytree(trained_lstm_folder, folder, ignore=shutil.ignore_patterns("checkpoint-*"))
    saved_labels, saved, _ = read_predictions(folder / TEST_PREDICTIONS_FILE)
    before = read_results(folder)
    completed = run_benchmark(folder, imdb_dataset, "--split", "validation", "--ways", "chunks", "--write_best")
    assert completed.returncode == 0, completed.stderr[-4000:]
    table = json.loads(completed.stdout[completed.stdout.index("{") :])
    assert table["written"]["way"] == "chunks" and table["written"]["chunk_overlap"] == 32

    # The folder asks for windows of 256 tokens sharing 32, and keeps its cut for pipeline.
    tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert (tokenizer_config["chunk_overlap"], tokenizer_config["truncation"]) == (32, "head_tail")
    predictor = load_predictor("model", str(folder))
    assert predictor.describe()["chunk_overlap"] == 32  # what the server's /models reports

    # The run's 300 test reviews: the long ones read again in windows, the others as saved.
    test = load_sentiment_splits(imdb_dataset, seed=42, max_test_samples=300)["test"]
    texts = list(test["text"])
    labels, rescored, _ = read_predictions(folder / TEST_PREDICTIONS_FILE)
    assert labels.tolist() == saved_labels.tolist() == test["label"]
    long = np.array([len(ids) > 256 for ids in predictor.tokenizer(texts)["input_ids"]])
    assert 10 < long.sum() < len(texts)
    np.testing.assert_array_equal(rescored[~long], saved[~long])
    by_default = predictor.predict_probabilities(texts)  # every project door's reading, now windows
    np.testing.assert_allclose(rescored, by_default, atol=1e-6, rtol=0)
    cut = predictor.predict_probabilities(texts, chunk_overlap=None)
    np.testing.assert_allclose(cut, saved, atol=1e-5, rtol=0)  # the cut the run scored, still there on request
    assert not np.allclose(rescored[long], saved[long], atol=1e-4)

    # all_results.json and the card give the new figures, and say how they were read.
    results = read_results(folder)
    assert results["test_accuracy"] == pytest.approx((rescored.argmax(1) == labels).mean())
    assert table["written"]["test_accuracy"] == {
        "before": before["test_accuracy"], "after": results["test_accuracy"], "reviews_read_again": int(long.sum())
    }  # fmt: skip
    assert results["long_review_reading"]["test_reviews_read_again"] == long.sum()
    assert "test_runtime" in before and "test_runtime" not in results  # the run's pass read the other way
    card = (folder / "README.md").read_text()
    assert f"{100 * results['test_accuracy']:.2f}%" in card
    assert "each sharing 32 with the previous one" in card and "The test figures above were measured that way" in card

    # predict.py reads windows by default, and the cut when told.
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts[:40]))
    for option, expected in (([], by_default[:40]), (["--chunk_overlap", "none"], cut[:40])):
        command = [sys.executable, str(PROJECT_ROOT / "scripts" / "predict.py"), "--model", str(folder),
                   "--input", str(reviews), "--top_k", "2", *option]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        records = [json.loads(line) for line in done.stdout.splitlines()]
        from_script = np.array([[{e["label"]: e["score"] for e in r["scores"]}[name] for name in predictor.labels]
                                for r in records])  # fmt: skip
        np.testing.assert_allclose(from_script, expected, atol=1e-5, rtol=0)

    # The ONNX export, run by ONNX Runtime, reads windows too.
    export = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "export_onnx.py"), "--model", str(folder)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert export.returncode == 0, export.stderr[-4000:]
    onnx_predictor = load_predictor("model", str(folder), backend="onnx")
    np.testing.assert_allclose(onnx_predictor.predict_probabilities(texts[:40]), by_default[:40], atol=1e-4, rtol=0)
