"""Shared fixtures: real IMDB reviews, a small LSTM folder trained by the real training script, a small random
ModernBERT encoder with a tokenizer trained here, and the real MiniLM encoder.

The dataset comes from `IMDB_DATASET` (a local folder or Hub id; default `stanfordnlp/imdb`) and the MiniLM encoder
from `MINILM_PATH` (a local folder or Hub id; default `sentence-transformers/all-MiniLM-L6-v2`), so tests never name
a machine's paths: CI and the README pass the local copies in.
"""

import gc
import json
import os
import platform
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from trainers.data import DEFAULT_DATASET, DatasetSource, load_sentiment_splits

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = PROJECT_ROOT / "scripts" / "train.py"
LSTM_RECIPE = PROJECT_ROOT / "configs" / "lstm.yaml"
VERBALIZER_SCRIPT = PROJECT_ROOT / "scripts" / "train_verbalizer.py"
VERBALIZER_RECIPE = PROJECT_ROOT / "configs" / "verbalizer.yaml"
FINETUNE_SCRIPT = PROJECT_ROOT / "scripts" / "finetune.py"
FINETUNE_RECIPES = PROJECT_ROOT / "configs" / "finetune"
EXPORT_ONNX_SCRIPT = PROJECT_ROOT / "scripts" / "export_onnx.py"
# `accelerate launch` of two processes on the CPU, talking over gloo (no GPU here).
TWO_CPU_PROCESSES = [
    sys.executable, "-m", "accelerate.commands.launch",
    "--config_file", str(PROJECT_ROOT / "configs" / "accelerate" / "multi_gpu.yaml"), "--num_processes", "2",
]  # fmt: skip
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
# Single tokens of the small tokenizer trained below, used as label words by the tests' `mlm` heads.
TEST_LABEL_WORDS = [" bad", " good"]
TEST_TEMPLATE = " The sentiment of this statement is"
HELPERS = Path(__file__).resolve().parent / "helpers"
# The classes of IMDB's `ClassLabel`, which every model trained on it answers with.
IMDB_CLASSES = ["neg", "pos"]
SST2_CLASSES = ["negative", "positive"]


def installed_versions() -> dict[str, str]:
    """What this machine runs: Python and the installed torch, transformers, tokenizers, datasets and this project."""
    libraries = ("torch", "transformers", "tokenizers", "datasets", "imdb-sentiment")
    return {"python": platform.python_version(), **{name: version(name) for name in libraries}}


def assert_card_lists_versions(card_text: str, versions: dict[str, str]) -> None:
    assert "### Framework versions" in card_text
    for name, expected in versions.items():
        assert f"\n- {name} {expected}\n" in card_text, name


@pytest.fixture(scope="session")
def imdb_dataset() -> str:
    return os.environ.get("IMDB_DATASET", DEFAULT_DATASET)


@pytest.fixture(scope="session")
def sst2_dataset() -> str:
    """SST-2 laid out like the Hub's (`sentence` column, its own validation split), from `SST2_DATASET`."""
    return os.environ.get("SST2_DATASET", "stanfordnlp/sst2")


@pytest.fixture(scope="session")
def tweet_source() -> DatasetSource:
    """The three-class tweet sentiment set (negative, neutral, positive): `TWEET_DATASET` (a local copy, laid out as
    one configuration), else the Hub's tweet_eval, configuration `sentiment`."""
    local_copy = os.environ.get("TWEET_DATASET")
    if local_copy:
        return DatasetSource(dataset_name=local_copy)
    return DatasetSource(dataset_name="cardiffnlp/tweet_eval", dataset_config_name="sentiment")


@pytest.fixture(scope="session")
def minilm_path() -> str:
    return os.environ.get("MINILM_PATH", MINILM_HUB_ID)


@pytest.fixture(scope="session")
def imdb_splits(imdb_dataset):
    """600 real training reviews (540 train / 60 validation) and 200 real test reviews."""
    return load_sentiment_splits(imdb_dataset, seed=0, max_train_samples=600, max_test_samples=200)


@pytest.fixture(scope="session")
def trained_lstm_folder(imdb_dataset, tmp_path_factory) -> Path:
    """A small LSTM trained by `scripts/train.py` on 2,000 real reviews, run as a user would run it."""
    return train_test_lstm(imdb_dataset, tmp_path_factory.mktemp("lstm-run") / "model")


def train_test_lstm(imdb_dataset: str, output_dir: Path, *extra: str) -> Path:
    """The LSTM recipe at test size (2,000 real reviews, 300 test reviews, 256 tokens, 3 epochs), trained by
    `scripts/train.py` with `extra` options. Returns the model folder."""
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
        *extra,
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return output_dir


def train_test_verbalizer(head_type: str, imdb_dataset: str, encoder: Path, output_dir: Path) -> Path:
    """The verbalizer recipe as given, at test size (the small random ModernBERT as encoder, 600 real reviews, 128
    tokens keeping a long review's first 32 and its end), trained by `scripts/train_verbalizer.py`."""
    command = [
        sys.executable, str(VERBALIZER_SCRIPT), str(VERBALIZER_RECIPE), "--dataset_name", imdb_dataset,
        "--encoder_name_or_path", str(encoder), "--head_type", head_type,
        "--output_dir", str(output_dir), "--max_train_samples", "600", "--max_test_samples", "200",
        "--max_length", "128", "--head_tokens", "32", "--mlp_hidden_sizes", "32", "16",
        "--label_words", *TEST_LABEL_WORDS, "--num_train_epochs", "4", "--learning_rate", "1e-2",
        "--disable_tqdm", "true",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return output_dir


@pytest.fixture(scope="session")
def verbalizer_mlp_folder(imdb_dataset, random_modernbert_folder, tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("verbalizer-mlp") / "model"
    return train_test_verbalizer("mlp", imdb_dataset, random_modernbert_folder, output_dir)


@pytest.fixture(scope="session")
def verbalizer_mlm_folder(imdb_dataset, random_modernbert_folder, tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("verbalizer-mlm") / "model"
    return train_test_verbalizer("mlm", imdb_dataset, random_modernbert_folder, output_dir)


def finetune(encoder: str, recipe: str, output_dir: Path, imdb_dataset: str, *extra: str) -> Path:
    """A few optimizer steps of a real fine-tuning recipe on 200 real reviews (128 tokens keeping a long review's first
    32 and its end): enough to exercise the whole path. Returns the model folder."""
    command = [
        sys.executable, str(FINETUNE_SCRIPT), str(FINETUNE_RECIPES / recipe),
        str(FINETUNE_RECIPES / "presets" / "aggressive.yaml"),
        "--model_name_or_path", encoder, "--dataset_name", imdb_dataset, "--output_dir", str(output_dir),
        "--max_train_samples", "200", "--max_test_samples", "64", "--max_length", "128", "--head_tokens", "32",
        "--per_device_train_batch_size", "8", "--max_steps", "6", "--eval_strategy", "steps", "--eval_steps", "3",
        "--save_strategy", "steps", "--save_steps", "3", "--disable_tqdm", "true", *extra,
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return output_dir


@pytest.fixture(scope="session")
def finetuned_modernbert_folder(random_modernbert_folder, imdb_dataset, tmp_path_factory) -> Path:
    """The ModernBERT recipe fine-tuned from the small random ModernBERT (its card can name no Hub id)."""
    output_dir = tmp_path_factory.mktemp("finetuned-modernbert") / "model"
    # ModernBERT's config calls the dropout on attention weights attention_dropout; MiniLM's (below) another name.
    return finetune(
        str(random_modernbert_folder), "modernbert.yaml", output_dir, imdb_dataset, "--attention_dropout", "0.05"
    )


@pytest.fixture(scope="session")
def finetuned_minilm_folder(minilm_path, imdb_dataset, tmp_path_factory) -> Path:
    """The MiniLM recipe fine-tuned from the real all-MiniLM-L6-v2, named by its Hub id in the card, without dropout
    on its attention weights (the cheaper teacher's setting)."""
    output_dir = tmp_path_factory.mktemp("finetuned-minilm") / "model"
    return finetune(
        minilm_path, "minilm.yaml", output_dir, imdb_dataset, "--base_model_hub_id", MINILM_HUB_ID,
        "--attention_dropout", "0.0",
    )  # fmt: skip


def build_test_verbalizer(encoder: str | Path, max_length: int = 96, **overrides):
    """A verbalizer at test size (small MLP, 16 tokens kept from a long review's start) and its tokenizer."""
    from trainers.features import build_verbalizer

    hyperparameters = {
        "encoder_name_or_path": str(encoder), "template": TEST_TEMPLATE, "mlp_hidden_sizes": [32, 16],
        "label_words": TEST_LABEL_WORDS, "head_tokens": 16, **overrides,
    }  # fmt: skip
    model, tokenizer = build_verbalizer(hyperparameters, max_length)
    return model.eval(), tokenizer


def assert_padding_does_not_change_logits(model, tokenizer, reviews: list[str], rtol: float = 1e-5) -> None:
    """Each review's logits in a padded batch equal its logits alone: padding must never reach a prediction."""
    import torch

    batch = tokenizer(reviews, truncation=True, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any(), "the batch must hold padding for this test to mean anything"
    with torch.no_grad():
        batched = model(**batch).logits
        for row, review in enumerate(reviews):
            alone = model(**tokenizer(review, truncation=True, return_tensors="pt")).logits
            torch.testing.assert_close(batched[row], alone[0], rtol=rtol, atol=1e-5)


def load_folder_without_project(folder: Path, texts: list[str], long_review: str, tmp_path: Path) -> dict:
    """What `helpers/load_model_folder.py` saw, run in a fresh process without this project, on these reviews."""
    reviews_file = tmp_path / "reviews.json"
    reviews_file.write_text(json.dumps({"texts": texts, "long_review": long_review}))
    completed = run_without_project(HELPERS / "load_model_folder.py", str(folder), str(reviews_file), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def load_pretrained_folder_without_project(folder: Path, texts: list[str], tmp_path: Path) -> dict:
    """What `helpers/load_pretrained_folder.py` saw of a pretraining folder (as base model, classifier and pipeline),
    run in a fresh process without this project, on these reviews."""
    reviews_file = tmp_path / "reviews.json"
    reviews_file.write_text(json.dumps({"texts": texts}))
    completed = run_without_project(
        HELPERS / "load_pretrained_folder.py", str(folder), str(reviews_file), cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


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


@pytest.fixture(scope="session")
def random_modernbert_folder(imdb_splits, tmp_path_factory) -> Path:
    """A ModernBERT masked LM (2 layers, hidden size 64, random weights) and a byte-level BPE tokenizer trained here on
    real reviews with `tokenizers`, saved as a folder that `AutoModel`, `AutoModelForMaskedLM` and `AutoTokenizer`
    load: the shape of `answerdotai/ModernBERT-base`, which cannot be downloaded here.

    Weights are drawn at 5x ModernBERT's initializer range: at 0.02 the attention of a random model is so small that
    the state at the mask barely depends on the review, and no head could learn anything from it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import ModernBertConfig, ModernBertForMaskedLM, PreTrainedTokenizerFast

    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    backend = Tokenizer(models.BPE(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=specials, show_progress=False)
    backend.train_from_iterator(imdb_splits["train"]["text"], trainer=trainer)
    ids = {token: backend.token_to_id(token) for token in specials}
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
        mask_token="[MASK]", model_max_length=8192,
    )  # fmt: skip
    config = ModernBertConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=512, local_attention=64, global_attn_every_n_layers=2, initializer_range=0.1,
        pad_token_id=ids["[PAD]"], cls_token_id=ids["[CLS]"], sep_token_id=ids["[SEP]"], bos_token_id=ids["[CLS]"],
        eos_token_id=ids["[SEP]"],
    )  # fmt: skip
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("random-modernbert")
    ModernBertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def exported_to_onnx(folder: Path, destination: Path, *options: str) -> Path:
    """A copy of a model folder (its checkpoints left out) with its ONNX export, by `scripts/export_onnx.py`."""
    shutil.copytree(folder, destination, ignore=shutil.ignore_patterns("checkpoint-*"))
    command = [sys.executable, str(EXPORT_ONNX_SCRIPT), "--model", str(destination), *options]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return destination


@pytest.fixture(scope="session")
def lstm_onnx_folder(trained_lstm_folder, tmp_path_factory) -> Path:
    """A copy of the trained LSTM's folder with its float and int8 ONNX exports."""
    return exported_to_onnx(trained_lstm_folder, tmp_path_factory.mktemp("lstm-onnx") / "model", "--int8")


def pytest_collection_finish(session):
    # The modules imported by collection (torch, transformers, every test module) live as long as the run: kept out
    # of the garbage collector, they no longer slow each of its collections.
    gc.freeze()
