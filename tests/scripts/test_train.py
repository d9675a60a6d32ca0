import json
import subprocess
import sys

import pytest
from transformers import AutoModelForSequenceClassification, set_seed

from models import LSTMForSequenceClassification, LSTMSentimentConfig
from trainers.arguments import SentimentTrainingArguments
from trainers.tokenizer import train_word_tokenizer
from trainers.training import build_trainer, tokenize_splits, train_and_evaluate

from ..conftest import IMDB_CLASSES, LSTM_RECIPE, PROJECT_ROOT, TRAIN_SCRIPT, load_folder_without_project


def train_small_lstm(splits, output_dir, seed=0, epochs=3):
    set_seed(seed)
    args = SentimentTrainingArguments(
        output_dir=str(output_dir), num_train_epochs=epochs, learning_rate=5e-3, per_device_train_batch_size=8,
        eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True, metric_for_best_model="loss",
        greater_is_better=False, report_to="none", seed=seed, disable_tqdm=True, save_total_limit=1,
    )  # fmt: skip
    tokenizer = train_word_tokenizer(splits["train"]["text"], vocab_size=4000, min_frequency=2, model_max_length=200)
    tokenized = tokenize_splits(splits, tokenizer, args)
    model = LSTMForSequenceClassification(
        LSTMSentimentConfig(vocab_size=len(tokenizer), embedding_dim=32, hidden_size=32, pooling="mean")
    )
    trainer = build_trainer(model, args, tokenized, tokenizer)
    return trainer, tokenized


def test_training_on_real_reviews_lowers_validation_loss(imdb_splits, tmp_path):
    trainer, tokenized = train_small_lstm(imdb_splits, tmp_path)
    before = trainer.evaluate()["eval_loss"]
    results = train_and_evaluate(trainer, tokenized, recipe={"approach": "lstm"})
    assert results["eval_loss"] < before - 0.03
    history = [entry["eval_loss"] for entry in trainer.state.log_history if "eval_loss" in entry]
    # The kept checkpoint is the one validation preferred, not the last one; its loss before temperature scaling
    # is the one training saw, and the scaling lowers it.
    assert results["eval_nll_before_calibration"] == pytest.approx(min(history[1:-1]))
    assert results["eval_loss"] == pytest.approx(results["eval_nll_after_calibration"])
    assert results["eval_loss"] <= results["eval_nll_before_calibration"]


def test_same_seed_repeats_the_run_exactly(imdb_splits, tmp_path):
    results = []
    for run in ("first", "second"):
        trainer, tokenized = train_small_lstm(imdb_splits, tmp_path / run, seed=5, epochs=1)
        results.append(train_and_evaluate(trainer, tokenized, recipe={"approach": "lstm"}))
    assert results[0]["eval_loss"] == results[1]["eval_loss"]
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]


def test_output_folder_is_hub_ready_with_metrics(trained_lstm_folder):
    files = {p.name for p in trained_lstm_folder.iterdir() if p.is_file()}
    assert {
        "model.safetensors", "config.json", "configuration_lstm.py", "modeling_lstm.py",
        "tokenizer.json", "tokenizer_config.json", "all_results.json", "trainer_state.json", "training_recipe.yaml",
        "README.md",
    } <= files  # fmt: skip
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pth", ".pkl"))], "no pickles"
    config = json.loads((trained_lstm_folder / "config.json").read_text())
    assert config["auto_map"]["AutoModelForSequenceClassification"] == "modeling_lstm.LSTMForSequenceClassification"
    assert config["id2label"] == {"0": "neg", "1": "pos"}

    results = json.loads((trained_lstm_folder / "all_results.json").read_text())
    assert (results["train_samples"], results["eval_samples"], results["test_samples"]) == (1800, 200, 300)
    model = AutoModelForSequenceClassification.from_pretrained(trained_lstm_folder)
    assert results["num_parameters"] == sum(p.numel() for p in model.parameters())
    assert results["train_runtime_seconds"] > 0 and results["train_reviews_per_second"] > 0
    assert 0.6 < results["test_accuracy"] <= 1.0 and 0.0 < results["test_f1"] <= 1.0
    assert 0.6 < results["eval_accuracy"] <= 1.0


def test_fresh_process_without_the_project_labels_real_reviews(trained_lstm_folder, imdb_splits, tmp_path):
    texts, labels = list(imdb_splits["test"]["text"]), list(imdb_splits["test"]["label"])
    long_review = " ".join(" ".join(texts).split()[:5000])  # real reviews, end to end
    seen = load_folder_without_project(trained_lstm_folder, texts, long_review, tmp_path)

    assert seen["project_importable"] is False
    assert seen["model_class_module"].startswith("transformers_modules.")
    assert seen["pipeline_labels"] == seen["model_labels"]
    expected = [IMDB_CLASSES[label] for label in labels]
    accuracy = sum(p == e for p, e in zip(seen["pipeline_labels"], expected)) / len(expected)
    assert accuracy > 0.6, f"accuracy {accuracy:.3f} on 200 real test reviews"

    assert seen["long_review_words"] == 5000
    assert seen["long_review_tokens_after_truncation"] == seen["model_max_length"] == 256
    for scores in (seen["long_review_scores"], seen["long_review_scores_untruncated"]):
        assert sorted(s["label"] for s in scores) == IMDB_CLASSES
        assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-5)


def test_help_and_bad_recipes_from_the_command_line(tmp_path):
    help_run = subprocess.run([sys.executable, str(TRAIN_SCRIPT), "--help"], capture_output=True, text=True)
    assert help_run.returncode == 0
    for option in ("--dataset_name", "--pooling", "--hidden_size", "--early_stopping_patience", "--learning_rate"):
        assert option in help_run.stdout

    bad_recipe = tmp_path / "bad.yaml"
    bad_recipe.write_text(LSTM_RECIPE.read_text() + "hiden_size: 3\n")
    bad_run = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), str(bad_recipe)], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert bad_run.returncode == 2 and "unknown keys: hiden_size" in bad_run.stderr
