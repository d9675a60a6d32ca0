"""Bring your own data: datasets not shaped like IMDB, trained by the real scripts, answered in their own labels.

SST-2 (a `sentence` column, its own validation split), the three-class tweet set, and a CSV written here with its own
column names and string labels; each trains the LSTM and a fine-tuned encoder a few steps, and the saved folder,
loaded in a fresh process without this project, answers with the dataset's label names through `pipeline`.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import Dataset
from huggingface_hub import ModelCard

from trainers.arguments import dataset_command_line

from ..conftest import (
    FINETUNE_RECIPES,
    FINETUNE_SCRIPT,
    LSTM_RECIPE,
    PROJECT_ROOT,
    SST2_CLASSES,
    TRAIN_SCRIPT,
    load_folder_without_project,
)

EVALUATE_SCRIPT = PROJECT_ROOT / "scripts" / "evaluate_model.py"
TWEET_CLASSES = ["negative", "neutral", "positive"]
CSV_CLASSES = ["thumbs down", "thumbs up"]  # sorted: the order the label column's distinct values take
SMALL_LSTM = [
    "--vocab_size", "3000", "--embedding_dim", "16", "--hidden_size", "16", "--num_train_epochs", "1",
    "--max_length", "64", "--head_tokens", "16",
]  # fmt: skip
SMALL_FINETUNE = [
    "--max_length", "64", "--head_tokens", "16", "--per_device_train_batch_size", "8", "--max_steps", "3", "--eval_strategy", "no",
    "--save_strategy", "no", "--load_best_model_at_end", "false",
]  # fmt: skip


def run(command: list, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(list(map(str, command)), capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def reviews_csv(imdb_splits, tmp_path_factory) -> dict[str, Path]:
    """Real IMDB reviews written as CSV files with columns of their own (`review`, `verdict`) and string labels."""
    folder = tmp_path_factory.mktemp("own-csv")
    files = {}
    for name, split in {"train": imdb_splits["train"].select(range(240)), "test": imdb_splits["test"]}.items():
        files[name] = folder / f"{name}.csv"
        verdicts = [("thumbs down", "thumbs up")[label] for label in split["label"]]
        Dataset.from_dict({"review": split["text"], "verdict": verdicts}).to_csv(str(files[name]), index=False)
    return files


def data_arguments(kind: str, request) -> tuple[list, list[str]]:
    """The command-line data arguments of one of the three datasets, and the classes it has."""
    if kind == "sst2":
        sst2 = request.getfixturevalue("sst2_dataset")
        return ["--dataset_name", sst2, "--dataset_hub_id", "stanfordnlp/sst2", "--text_column_name", "sentence",
                "--max_train_samples", 300, "--max_test_samples", 60], SST2_CLASSES  # fmt: skip
    if kind == "tweets":
        tweets = dataset_command_line(request.getfixturevalue("tweet_source"))
        return [*tweets, "--dataset_hub_id", "cardiffnlp/tweet_eval",
                "--max_train_samples", 300, "--max_test_samples", 60], TWEET_CLASSES  # fmt: skip
    files = request.getfixturevalue("reviews_csv")
    return ["--train_file", files["train"], "--test_file", files["test"], "--text_column_name", "review",
            "--label_column_name", "verdict", "--validation_fraction", 0.25], CSV_CLASSES  # fmt: skip


def train(kind: str, approach: str, request, output_dir: Path) -> list[str]:
    """Trains `approach` (lstm, finetune) on the dataset `kind` with the real script; returns the classes."""
    arguments, classes = data_arguments(kind, request)
    if approach == "lstm":
        command = [sys.executable, TRAIN_SCRIPT, LSTM_RECIPE, *arguments, *SMALL_LSTM]
    else:
        encoder = request.getfixturevalue("random_modernbert_folder")
        command = [sys.executable, FINETUNE_SCRIPT, FINETUNE_RECIPES / "modernbert.yaml", *arguments,
                   "--model_name_or_path", encoder, *SMALL_FINETUNE]  # fmt: skip
    completed = run([*command, "--output_dir", output_dir, "--disable_tqdm", "true"])
    assert completed.returncode == 0, completed.stderr[-4000:]
    return classes


@pytest.mark.parametrize("approach", ["lstm", "finetune"])
@pytest.mark.parametrize("kind", ["sst2", "tweets", "csv"])
def test_a_model_trained_on_other_data_answers_in_its_labels(kind, approach, request, imdb_splits, tmp_path):
    output_dir = tmp_path / "model"
    classes = train(kind, approach, request, output_dir)

    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"] == {str(index): name for index, name in enumerate(classes)}
    results = json.loads((output_dir / "all_results.json").read_text())
    # SST-2 and the tweets bring their own validation split; the CSV's is carved from its training rows.
    expected_validation = {"sst2": (872, "validation"), "tweets": (2000, "validation"), "csv": (60, "train")}[kind]
    assert (results["eval_samples"], results["eval_split"]) == expected_validation

    card = ModelCard.load(output_dir / "README.md")
    class_list = ", ".join(f'"{name}"' for name in classes)
    assert f"one of {len(classes)} classes, {class_list}" in card.text
    if kind == "csv":  # local files name no Hub dataset: the card names the files, not a path of this machine
        assert card.data.datasets is None and "train.csv" in card.text and str(output_dir.parent) not in card.text
        assert "from the `review` column and the class from the `verdict` column" in card.text
    else:
        assert card.data.datasets == [{"sst2": "stanfordnlp/sst2", "tweets": "cardiffnlp/tweet_eval"}[kind]]
    if kind == "tweets":
        assert "macro averages over the 3 classes" in card.text
    # The hard cases are labelled NEGATIVE and POSITIVE: SST-2's classes say which is which; three classes, or
    # "thumbs down" and "thumbs up", do not, and the run scores none rather than guess.
    assert ("minimal_pairs" in results) == ("## Hard cases" in card.text) == (kind == "sst2")

    texts = list(imdb_splits["test"]["text"][:8])
    long_review = " ".join(" ".join(imdb_splits["test"]["text"]).split()[:600])
    seen = load_folder_without_project(output_dir, texts, long_review, tmp_path)
    assert seen["project_importable"] is False
    assert seen["pipeline_labels"] == seen["model_labels"] and set(seen["pipeline_labels"]) <= set(classes)
    assert sorted(score["label"] for score in seen["long_review_scores"]) == sorted(classes)


def test_a_dataset_with_labels_missing_in_train_is_refused(imdb_splits, tmp_path):
    train = imdb_splits["train"].select(range(20))
    labels = [("bad", "good")[label] if index % 4 else None for index, label in enumerate(train["label"])]
    Dataset.from_dict({"text": train["text"], "label": labels}).to_csv(str(tmp_path / "train.csv"), index=False)
    Dataset.from_dict({"text": train["text"], "label": ["good"] * 20}).to_csv(str(tmp_path / "test.csv"), index=False)
    completed = run([sys.executable, TRAIN_SCRIPT, LSTM_RECIPE, "--train_file", tmp_path / "train.csv",
                     "--test_file", tmp_path / "test.csv", "--output_dir", tmp_path / "model"])  # fmt: skip
    assert completed.returncode != 0
    assert completed.stderr.strip().splitlines()[-1] == (
        "error: The 'train' split has 5 of 20 rows without a label (empty or -1) in its 'label' column; every row "
        "of a split used for training or scoring needs one."
    )
    assert not (tmp_path / "model").exists()


def test_an_imdb_model_is_scored_on_sst2_with_labels_matched_by_name(trained_lstm_folder, sst2_dataset, tmp_path):
    completed = run([sys.executable, EVALUATE_SCRIPT, trained_lstm_folder, "--dataset_name", sst2_dataset,
                     "--text_column_name", "sentence", "--max_samples", 200, "--output_dir", tmp_path])  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["samples"] == 200 and list(report["per_class"]) == SST2_CLASSES
    assert sum(map(sum, report["confusion_matrix"])) == 200
    assert report["source"]["dataset"] == sst2_dataset
    # The IMDB model's neg/pos were matched to SST-2's negative/positive: its verdicts land on the right classes.
    predicted_positive = sum(row[1] for row in report["confusion_matrix"])
    assert 0 < predicted_positive < 200 and report["accuracy"] > 0.5


def test_the_comparison_reads_three_classes_with_their_own_validation_split(tweet_source, tmp_path):
    command = [sys.executable, PROJECT_ROOT / "scripts" / "compare.py", "--quick", "--approaches", "tfidf",
               *dataset_command_line(tweet_source), "--max_train_samples", 900, "--max_test_samples", 300,
               "--output_dir", tmp_path]  # fmt: skip
    completed = run(command)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads((tmp_path / "comparison.json").read_text())
    assert (report["dataset"], report["validation_split"]) == (tweet_source.describe(), "validation")
    (run_row,) = report["runs"]["tfidf"]
    assert run_row["test_samples"] == 300 and run_row["roc_auc"] is None  # no single positive class among three
    assert 1 / 3 < run_row["accuracy"] < 1 and 0 < run_row["f1"] < 1
    assert (
        f"Setting: quick ({tweet_source.describe()}, " in completed.stdout
        and "the dataset's 'validation' split" in completed.stdout
    )
