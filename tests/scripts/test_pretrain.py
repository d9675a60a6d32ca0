import json
import math
import subprocess
import sys

import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

from models import LSTMForPreTraining
from trainers.arguments import LSTMArguments, PretrainingDataArguments, SentimentTrainingArguments
from trainers.builders import lstm_builder, pretrained_lstm_builder
from trainers.pretraining import (
    build_pretraining_trainer,
    load_pretraining_corpus,
    pack_reviews,
    pretraining_tokenizer,
)
from trainers.training import build_trainer

from ..conftest import (
    IMDB_CLASSES,
    PROJECT_ROOT,
    TRAIN_SCRIPT,
    assert_card_lists_versions,
    installed_versions,
    load_folder_without_project,
    load_pretrained_folder_without_project,
)

PRETRAIN_SCRIPT = PROJECT_ROOT / "scripts" / "pretrain.py"
PRETRAIN_RECIPE = PROJECT_ROOT / "configs" / "pretrain" / "lstm.yaml"
PRETRAINED_RECIPE = PROJECT_ROOT / "configs" / "lstm_pretrained.yaml"
# Test size: a few hundred real reviews, a small vocabulary and model.
SMALL_DATA = {
    "max_train_samples": 300,
    "max_unlabeled_samples": 400,
    "lm_validation_samples": 40,
    "segment_length": 64,
}
SMALL_MODEL = [
    "--vocab_size",
    "2000",
    "--embedding_dim",
    "32",
    "--hidden_size",
    "32",
    "--num_sampled_negatives",
    "128",
]


def small_data_args(imdb_dataset: str) -> PretrainingDataArguments:
    return PretrainingDataArguments(dataset_name=imdb_dataset, **SMALL_DATA)


def small_training_args(output_dir, **overrides) -> SentimentTrainingArguments:
    return SentimentTrainingArguments(**{
        "output_dir": str(output_dir), "per_device_train_batch_size": 16, "per_device_eval_batch_size": 32,
        "learning_rate": 5e-3, "report_to": "none", "disable_tqdm": True, "seed": 0, **overrides,
    })  # fmt: skip


def words_of(tokenizer, texts) -> set[str]:
    """The words the tokenizer's own normalizer and pre-tokenizer cut `texts` into."""
    backend = tokenizer.backend_tokenizer
    return {
        word
        for text in texts
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))
    }


def test_vocabulary_comes_from_pretraining_reviews_only(imdb_dataset, tmp_path):
    data_args = small_data_args(imdb_dataset)
    corpus = load_pretraining_corpus(data_args, seed=0)
    assert (len(corpus["train"]), len(corpus["validation"])) == (270 + 400, 40)  # 300 minus the classifier's 30
    tokenizer = pretraining_tokenizer(corpus, data_args, 50000, small_training_args(tmp_path))
    seen = words_of(tokenizer, corpus["train"]["text"])
    vocabulary = set(tokenizer.get_vocab()) - {"[PAD]", "[UNK]", "[SEP]"}
    assert vocabulary <= seen

    splits = load_sentiment_splits_for(imdb_dataset)
    test_only = words_of(tokenizer, splits["test"]["text"]) - seen
    held_out_only = words_of(tokenizer, corpus["validation"]["text"]) - seen
    validation_only = words_of(tokenizer, splits["validation"]["text"]) - seen
    for unseen in (test_only, held_out_only, validation_only):
        assert len(unseen) > 50 and not unseen & vocabulary


def test_an_unlabeled_only_corpus_reads_no_labeled_review_of_any_seed(imdb_dataset):
    data_args = PretrainingDataArguments(dataset_name=imdb_dataset, **SMALL_DATA, pretrain_on_training_reviews=False)
    corpus = load_pretraining_corpus(data_args, seed=0)
    assert (len(corpus["train"]), len(corpus["validation"])) == (400, 40)
    with_labeled = load_pretraining_corpus(small_data_args(imdb_dataset), seed=0)
    assert corpus["train"]["text"] == with_labeled["train"]["text"][270:]  # the same unlabeled reviews
    splits = load_sentiment_splits_for(imdb_dataset)
    labeled = set(splits["train"]["text"]) | set(splits["validation"]["text"])
    assert labeled and not labeled & set(corpus["train"]["text"])


def load_sentiment_splits_for(imdb_dataset):
    from trainers.data import load_sentiment_splits

    # The same seed and sizes as `small_data_args`: the classifier's validation reviews of that run.
    return load_sentiment_splits(imdb_dataset, seed=0, max_train_samples=300, max_test_samples=500)


def test_reviews_are_packed_whole_each_ended_by_sep(imdb_dataset, tmp_path):
    data_args = small_data_args(imdb_dataset)
    corpus = load_pretraining_corpus(data_args, seed=0)
    args = small_training_args(tmp_path)
    tokenizer = pretraining_tokenizer(corpus, data_args, 2000, args)
    segments = pack_reviews(corpus, tokenizer, 64, args)
    stream = [token for row in segments["validation"]["input_ids"] for token in row]
    assert {len(row) for row in segments["validation"]["input_ids"]} == {64}
    first, second = (tokenizer(text)["input_ids"] for text in corpus["validation"]["text"][:2])
    sep = tokenizer.sep_token_id
    assert stream[: len(first) + len(second) + 2] == [*first, sep, *second, sep]
    total = sum(len(ids) + 1 for ids in tokenizer(list(corpus["validation"]["text"]))["input_ids"])
    assert total - 64 < len(stream) <= total  # only the tail of the last segment is dropped


def test_pretraining_real_reviews_lowers_validation_perplexity(imdb_dataset, tmp_path):
    set_seed(0)
    data_args = small_data_args(imdb_dataset)
    args = small_training_args(tmp_path, num_train_epochs=2, eval_strategy="epoch", save_strategy="no")
    corpus = load_pretraining_corpus(data_args, seed=0)
    tokenizer = pretraining_tokenizer(corpus, data_args, 2000, args)
    segments = pack_reviews(corpus, tokenizer, data_args.segment_length, args)
    model_args = LSTMArguments(embedding_dim=32, hidden_size=32, num_sampled_negatives=128, embedding_dropout=0.0)
    model = lstm_builder(model_args, tokenizer, model_class=LSTMForPreTraining)({})
    trainer = build_pretraining_trainer(model, args, segments, tokenizer)
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    assert after["eval_perplexity"] == pytest.approx(math.exp(after["eval_loss"]))
    assert after["eval_perplexity"] < 0.5 * before["eval_perplexity"]
    assert trainer.state.num_input_tokens_seen == 2 * len(segments["train"]) * data_args.segment_length


@pytest.fixture(scope="module")
def pretrained_folder(imdb_dataset, tmp_path_factory):
    """A small pretraining run by `scripts/pretrain.py` on real reviews, as a user would run it."""
    output_dir = tmp_path_factory.mktemp("pretrain-run") / "pretrained"
    command = [
        sys.executable, str(PRETRAIN_SCRIPT), str(PRETRAIN_RECIPE), "--dataset_name", imdb_dataset,
        "--output_dir", str(output_dir), *[f"--{k}={v}" for k, v in SMALL_DATA.items()], *SMALL_MODEL,
        "--num_train_epochs", "2", "--per_device_train_batch_size", "16", "--learning_rate", "5e-3",
        "--disable_tqdm", "true",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return output_dir


def test_pretraining_folder_is_a_hub_model_with_its_results(pretrained_folder):
    files = {p.name for p in pretrained_folder.iterdir() if p.is_file()}
    assert {
        "model.safetensors", "config.json", "configuration_lstm.py", "modeling_lstm.py", "tokenizer.json",
        "tokenizer_config.json", "all_results.json", "trainer_state.json", "training_recipe.yaml", "README.md",
    } <= files  # fmt: skip
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pth", ".pkl"))], "no pickles"
    config = json.loads((pretrained_folder / "config.json").read_text())
    assert config["architectures"] == ["LSTMForPreTraining"]
    assert set(config["auto_map"]) == {
        "AutoConfig", "AutoModel", "AutoModelForPreTraining", "AutoModelForSequenceClassification"
    }  # fmt: skip

    results = json.loads((pretrained_folder / "all_results.json").read_text())
    assert (results["pretraining_reviews"], results["validation_reviews"]) == (270 + 400, 40)
    assert results["tokens_seen"] == 2 * results["pretraining_tokens"] > 0
    assert results["eval_perplexity"] == pytest.approx(math.exp(results["eval_loss"]))
    log_history = json.loads((pretrained_folder / "trainer_state.json").read_text())["log_history"]
    history = [entry["eval_perplexity"] for entry in log_history if "eval_perplexity" in entry]
    assert results["eval_perplexity"] == pytest.approx(min(history))  # the best checkpoint is the one kept
    card = ModelCard.load(pretrained_folder / "README.md")
    assert card.data.eval_results[0].metric_value == results["eval_perplexity"]
    assert "python scripts/pretrain.py recipe.yaml" in card.text
    # A language model is not a classifier: no tricky reviews or minimal pairs in its results or its card.
    assert not {"tricky_reviews", "minimal_pairs"} & set(results) and "## Hard cases" not in card.text
    assert results["software_versions"] == installed_versions()
    assert_card_lists_versions(card.text, installed_versions())


def test_pretraining_folder_loads_in_a_fresh_process_without_the_project(pretrained_folder, imdb_splits, tmp_path):
    seen = load_pretrained_folder_without_project(pretrained_folder, imdb_splits["test"]["text"][:8], tmp_path)
    assert seen["base_class"] == "LSTMModel" and seen["base_class_module"].startswith("transformers_modules.")
    assert seen["classifier_class"] == "LSTMForSequenceClassification"
    assert seen["newly_initialised"] == ["classifier.bias", "classifier.weight"]
    assert seen["classifier_base_equals_base"] and seen["logits_finite"]
    assert seen["last_hidden_state_shape"][-1] == 64 and seen["pooler_output_shape"] == [8, 128]  # max and mean
    assert len(seen["pipeline_scores"]) == 8


def test_classifier_trained_from_the_pretraining_folder(pretrained_folder, imdb_dataset, imdb_splits, tmp_path):
    output_dir = tmp_path / "classifier"
    command = [
        sys.executable, str(TRAIN_SCRIPT), str(PRETRAINED_RECIPE), "--pretrained_model_name_or_path",
        str(pretrained_folder), "--dataset_name", imdb_dataset, "--output_dir", str(output_dir),
        "--max_train_samples", "300", "--max_test_samples", "64", "--max_length", "128", "--num_train_epochs", "1",
        "--per_device_train_batch_size", "16", "--disable_tqdm", "true",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    # The pretraining folder's vocabulary, cut at the classifier recipe's length.
    tokenizer = AutoTokenizer.from_pretrained(output_dir, trust_remote_code=True)
    assert (
        tokenizer.get_vocab() == AutoTokenizer.from_pretrained(pretrained_folder, trust_remote_code=True).get_vocab()
    )
    assert tokenizer.model_max_length == 128
    card = (output_dir / "README.md").read_text()
    assert yaml.safe_load((output_dir / "training_recipe.yaml").read_text())["approach"] == "lstm_pretrained"
    # The recipe takes the folder's embeddings only, and trains adversarially.
    assert "its embeddings taken from a pretraining run (a local folder named 'pretrained')" in card
    assert "adversarial perturbations of the embeddings (epsilon 5.0)" in card
    assert str(pretrained_folder) not in card

    texts = imdb_splits["test"]["text"][:16]
    seen = load_folder_without_project(output_dir, texts, " ".join(texts), tmp_path)
    assert seen["pipeline_labels"] == seen["model_labels"] and seen["long_review_tokens_after_truncation"] == 128

    refused = subprocess.run(
        [*command[:-2], "--pretrained_layers", "embeddings_and_lstm", "--hidden_size", "48"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=600,
    )
    assert refused.returncode != 0 and "hidden_size=48 (the folder has 32)" in refused.stderr


def test_a_classifier_can_take_the_pretrained_embeddings_only(pretrained_folder):
    model_args = LSTMArguments(hidden_size=16, pooling="attention")
    with pytest.raises(ValueError, match="hidden_size=16 \\(the folder has 32\\)"):
        pretrained_lstm_builder(str(pretrained_folder), model_args, {"hidden_size": 16}, IMDB_CLASSES)
    model = pretrained_lstm_builder(
        str(pretrained_folder), model_args, {"hidden_size": 16}, IMDB_CLASSES, "embeddings"
    )({})
    pretrained = LSTMForPreTraining.from_pretrained(pretrained_folder)
    assert torch.equal(model.lstm.embeddings.weight, pretrained.lstm.embeddings.weight)
    assert model.config.hidden_size == 16 and model.config.pooling == "attention"
    assert model.config.id2label == {0: "neg", 1: "pos"}
    refused = {"embedding_dim": 64}
    with pytest.raises(ValueError, match="embedding_dim=64 \\(the folder has 32\\)"):
        pretrained_lstm_builder(str(pretrained_folder), model_args, refused, IMDB_CLASSES, "embeddings")


def test_compare_trains_the_pretrained_lstm_from_the_folder_it_is_given(pretrained_folder, imdb_dataset, tmp_path):
    command = [
        sys.executable, str(PROJECT_ROOT / "scripts" / "compare.py"), "--quick", "--dataset_name", imdb_dataset,
        "--max_train_samples", "200", "--max_test_samples", "60", "--speed_samples", "20",
        "--approaches", "lstm_pretrained", "tfidf", "--output_dir", str(tmp_path / "comparison"),
    ]  # fmt: skip
    without = subprocess.run(
        [*command, "--recipe", f"lstm_pretrained={tmp_path / 'recipe.yaml'}"], capture_output=True, text=True,
        cwd=PROJECT_ROOT, timeout=600,
    )  # fmt: skip
    assert without.returncode == 1 and "recipe.yaml, does not exist" in without.stderr
    (tmp_path / "recipe.yaml").write_text(PRETRAINED_RECIPE.read_text().replace("pretrained_model_name_or_path", "#"))
    without = subprocess.run(
        [*command, "--recipe", f"lstm_pretrained={tmp_path / 'recipe.yaml'}"], capture_output=True, text=True,
        cwd=PROJECT_ROOT, timeout=600,
    )  # fmt: skip
    assert without.returncode == 1 and "--base_model lstm_pretrained=MODEL" in without.stderr

    completed = subprocess.run(
        [*command, "--base_model", f"lstm_pretrained={pretrained_folder}", "--num_train_epochs_is_not_an_option"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 2  # compare.py's own options only
    completed = subprocess.run(
        [*command, "--base_model", f"lstm_pretrained={pretrained_folder}"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = json.loads((tmp_path / "comparison" / "comparison.json").read_text())
    assert list(report["summary"]) == ["lstm_pretrained", "tfidf"]
    run = report["runs"]["lstm_pretrained"][0]
    assert run["train_samples"] == 180 and run["test_samples"] == 60 and 0 <= run["accuracy"] <= 1
    recipe = yaml.safe_load((PROJECT_ROOT / run["folder"] / "training_recipe.yaml").read_text())
    assert recipe["approach"] == "lstm_pretrained" and recipe["pretrained_model_name_or_path"] == str(
        pretrained_folder
    )


def test_pretrained_layers_can_learn_more_slowly_than_the_head(pretrained_folder, imdb_splits, tmp_path):
    model = AutoModelForSequenceClassification.from_pretrained(pretrained_folder, num_labels=2)
    tokenizer = AutoTokenizer.from_pretrained(pretrained_folder, trust_remote_code=True)
    args = small_training_args(tmp_path, base_model_learning_rate_ratio=0.1, learning_rate=1e-3, weight_decay=0.01)
    trainer = build_trainer(model, args, imdb_splits, tokenizer)
    optimizer = trainer.create_optimizer()
    rates = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    assert len(rates) == sum(1 for _ in model.parameters())  # every parameter once
    assert all(rates[id(p)] == pytest.approx(1e-4) for p in model.base_model.parameters())  # embeddings, LSTMs
    assert [rates[id(p)] for p in model.classifier.parameters()] == [1e-3, 1e-3]
    assert trainer.create_optimizer() is optimizer and len(optimizer.param_groups) == 4  # split once


def test_resume_from_checkpoint_continues_the_run(pretrained_folder, imdb_dataset, tmp_path):
    checkpoint = max(pretrained_folder.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    output_dir = tmp_path / "resumed"
    command = [
        sys.executable, str(PRETRAIN_SCRIPT), str(pretrained_folder / "training_recipe.yaml"),
        "--dataset_name", imdb_dataset, "--output_dir", str(output_dir), "--num_train_epochs", "3",
        "--resume_from_checkpoint", str(checkpoint),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads((output_dir / "all_results.json").read_text())
    first = json.loads((pretrained_folder / "all_results.json").read_text())
    assert results["epochs"] == 3 and results["tokens_seen"] == 3 * first["pretraining_tokens"]
