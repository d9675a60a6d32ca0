"""`scripts/pretrain_word_vectors.py`: word vectors from the training and unlabeled reviews, as a folder that loads
through the Auto classes and that the semi-supervised classifier recipe starts from."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from safetensors.torch import load_file

from evaluation.run_tables import run_figures
from trainers.semi_supervised import TRAINING_WEIGHTS_FILE

from ..conftest import PROJECT_ROOT, TRAIN_SCRIPT, load_pretrained_folder_without_project

SCRIPT = PROJECT_ROOT / "scripts" / "pretrain_word_vectors.py"
SEARCH_SCRIPT = PROJECT_ROOT / "scripts" / "search.py"
RECIPE = PROJECT_ROOT / "configs" / "pretrain" / "word_vectors.yaml"
SEMI_SUPERVISED_RECIPE = PROJECT_ROOT / "configs" / "lstm_semi_supervised.yaml"
SMALL = ["--max_train_samples", "300", "--max_unlabeled_samples", "600", "--vocab_size", "3000",
         "--embedding_dim", "24", "--word2vec_epochs", "2"]  # fmt: skip


def run(command: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def word_vectors_folder(imdb_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("word-vectors") / "vectors"
    completed = run([sys.executable, str(SCRIPT), str(RECIPE), "--dataset_name", imdb_dataset, *SMALL,
                     "--output_dir", str(folder)])  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    return folder


def test_the_folder_holds_the_learned_vectors_and_a_card(word_vectors_folder):
    config = json.loads((word_vectors_folder / "config.json").read_text())
    assert config["embeddings_only"] and config["architectures"] == ["LSTMModel"]
    assert set(config["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForSequenceClassification"}
    results = json.loads((word_vectors_folder / "all_results.json").read_text())
    # The recipe reads the 600 unlabeled reviews only, no labeled one.
    assert results["corpus_reviews"] == 600 and results["corpus_tokens"] > 100_000
    embeddings = load_file(word_vectors_folder / "model.safetensors")["embeddings.weight"]
    assert embeddings.shape == (config["vocab_size"], 24)
    # Scaled to the recipe's standard deviation, from word2vec's smaller one.
    assert embeddings.std().item() == pytest.approx(1.0, rel=1e-4) == results["vector_std"]
    assert 0 < results["learned_vector_std"] < 0.5
    # Every word of the vocabulary occurs in the corpus it was learned on, and has its vector; [PAD] and [SEP] not.
    assert results["words_with_vectors"] == config["vocab_size"] - 2
    assert torch.count_nonzero(embeddings[config["pad_token_id"]]) == 0
    assert set(results["nearest_words"]) == {"excellent", "boring", "not"}

    card = ModelCard.load(word_vectors_folder / "README.md")
    assert "word-embeddings" in card.data.tags and not card.data.eval_results
    assert "skip-gram with negative sampling" in card.text and "| excellent |" in card.text
    assert "python scripts/pretrain_word_vectors.py recipe.yaml" in card.text


def test_the_folder_loads_without_the_project(word_vectors_folder, imdb_splits, tmp_path):
    seen = load_pretrained_folder_without_project(word_vectors_folder, imdb_splits["test"]["text"][:4], tmp_path)
    assert seen["base_class"] == "LSTMModel" and seen["classifier_class"] == "LSTMForSequenceClassification"
    assert seen["classifier_base_equals_base"] and seen["newly_initialised"] == [
        "classifier.bias",
        "classifier.weight",
    ]


def test_the_semi_supervised_recipe_starts_from_the_vectors(word_vectors_folder, imdb_dataset, tmp_path):
    output_dir = tmp_path / "classifier"
    common = [sys.executable, str(TRAIN_SCRIPT), str(SEMI_SUPERVISED_RECIPE), "--pretrained_model_name_or_path",
              str(word_vectors_folder), "--dataset_name", imdb_dataset, "--max_train_samples", "300",
              "--max_test_samples", "64", "--max_unlabeled_samples", "120", "--per_device_unlabeled_batch_size", "8",
              "--max_length", "128", "--head_tokens", "32", "--hidden_size", "16", "--num_train_epochs", "2",
              "--per_device_train_batch_size", "16", "--disable_tqdm", "true",
              # The recipe's options that validation did not prefer on IMDB, tested here through the script.
              "--virtual_adversarial_epsilon", "5", "--weight_averaging_decay", "0.999"]  # fmt: skip
    completed = run([*common, "--output_dir", str(output_dir)])
    assert completed.returncode == 0, completed.stderr[-4000:]
    recipe = yaml.safe_load((output_dir / "training_recipe.yaml").read_text())
    assert recipe["approach"] == "lstm_pretrained" and recipe["weight_averaging_decay"] == 0.999
    config = json.loads((output_dir / "config.json").read_text())
    assert config["virtual_adversarial_epsilon"] == 5.0 and config["adversarial_epsilon"] == 5.0
    tokenizer_config = json.loads((output_dir / "tokenizer_config.json").read_text())
    assert (tokenizer_config["truncation"], tokenizer_config["head_tokens"]) == ("head_tail", 32)
    # Evaluated and kept: the averaged weights, which the best checkpoint holds beside the training weights.
    best = Path(json.loads((output_dir / "trainer_state.json").read_text())["best_model_checkpoint"])
    kept, checkpointed = load_file(output_dir / "model.safetensors"), load_file(best / "model.safetensors")
    training_weights = load_file(best / TRAINING_WEIGHTS_FILE)
    # Calibration then divided the classifier layer by its temperature; every other weight is the checkpoint's.
    temperature = config["calibration_temperature"]
    for name, weights in training_weights.items():
        if name.startswith("classifier."):
            torch.testing.assert_close(kept[name], checkpointed[name] / temperature)
        else:
            assert torch.equal(kept[name], checkpointed[name])
    assert any(not torch.equal(kept[name], weights) for name, weights in training_weights.items())
    card = (output_dir / "README.md").read_text()
    assert "its embeddings taken from a pretraining run (a local folder named 'vectors')" in card
    # The results tables count the vectors' minutes as the classifier's pretraining.
    vectors_seconds = json.loads((word_vectors_folder / "all_results.json").read_text())["train_runtime_seconds"]
    assert run_figures(output_dir)["pretraining_minutes"] == vectors_seconds / 60

    # The vectors hold no trained LSTM: starting from one is refused before any training.
    refused = run([*common, "--pretrained_layers", "embeddings_and_lstm", "--output_dir", str(tmp_path / "no")])
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {word_vectors_folder} holds word vectors and an untrained LSTM: start from its embeddings only "
        "(--pretrained_layers embeddings)."
    )


def test_the_semi_supervised_recipe_can_be_searched(word_vectors_folder, imdb_dataset, tmp_path):
    """The search builds what the registry says: the LSTM from the word vectors (lstm_pretrained), its trials reading
    the unlabeled reviews as the recipe's model does; what the folder fixes cannot be searched."""
    common = [sys.executable, str(SEARCH_SCRIPT), str(SEMI_SUPERVISED_RECIPE), "--approach", "lstm_pretrained",
              "--pretrained_model_name_or_path", str(word_vectors_folder), "--dataset_name", imdb_dataset,
              "--max_train_samples", "300", "--per_device_unlabeled_batch_size", "8", "--max_length", "128",
              "--head_tokens", "32", "--num_train_epochs", "1", "--per_device_train_batch_size", "16",
              "--n_trials", "2", "--virtual_adversarial_epsilon", "5", "--disable_tqdm", "true"]  # fmt: skip
    space = {
        "learning_rate": {"type": "float", "low": 1e-3, "high": 5e-3, "log": True},
        "hidden_size": {"type": "categorical", "choices": [8, 16]},
    }
    output_dir = tmp_path / "search"
    searched = run([*common, "--max_unlabeled_samples", "120", "--search_space", json.dumps(space),
                    "--output_dir", str(output_dir)])  # fmt: skip
    assert searched.returncode == 0, searched.stderr[-4000:]
    summary = json.loads((output_dir / "study_summary.json").read_text())
    assert (summary["trials"], summary["failed"]) == (2, 0) and set(summary["best_params"]) == set(space)
    best = yaml.safe_load((output_dir / "best_recipe.yaml").read_text())
    assert best["pretrained_model_name_or_path"] == str(word_vectors_folder)
    assert best["pretrained_layers"] == "embeddings" and best["virtual_adversarial_epsilon"] == 5.0

    # The trials read the unlabeled split: asking for more reviews than it has stops the search before any trial.
    too_many = run([*common, "--max_unlabeled_samples", "10000000", "--search_space", json.dumps(space),
                    "--output_dir", str(tmp_path / "too-many")])  # fmt: skip
    assert too_many.returncode == 1
    assert "Asked for 10000000 reviews of the 'unsupervised' split" in too_many.stderr
    fixed = {"embedding_dim": {"type": "categorical", "choices": [16, 24]}}
    refused = run([*common, "--search_space", json.dumps(fixed), "--output_dir", str(tmp_path / "fixed")])
    assert refused.returncode == 1 and "search_space names ['embedding_dim']" in refused.stderr
