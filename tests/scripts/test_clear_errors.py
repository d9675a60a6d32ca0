"""A missing or broken dataset or model folder stops every command with one line saying what and where: no
traceback, a non-zero exit."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import LSTM_RECIPE, PROJECT_ROOT, TRAIN_SCRIPT, VERBALIZER_SCRIPT

SCRIPTS = PROJECT_ROOT / "scripts"


def run_all(commands: dict[str, list], env: dict | None = None) -> dict[str, subprocess.CompletedProcess]:
    """Runs the commands side by side (each mostly imports, then stops) and returns what each did."""
    env = {**os.environ, **(env or {})}
    running = {
        case: subprocess.Popen([sys.executable, *map(str, command)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=PROJECT_ROOT, env=env)
        for case, command in commands.items()
    }  # fmt: skip
    return {
        case: subprocess.CompletedProcess(process.args, process.wait(timeout=120), *process.communicate())
        for case, process in running.items()
    }


def assert_one_line_error(completed: subprocess.CompletedProcess, names: str) -> None:
    stderr = completed.stderr.strip()
    assert completed.returncode != 0, stderr
    assert "Traceback" not in stderr and len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("error:") and names in stderr, stderr


@pytest.fixture(scope="module")
def broken_model_folders(tmp_path_factory) -> dict[str, Path]:
    """A missing folder, a folder that is no model, and copies of a real (tiny) LSTM folder with a corrupt
    config.json or truncated weights."""
    from models import LSTMForSequenceClassification, LSTMSentimentConfig

    root = tmp_path_factory.mktemp("models")
    model = root / "model"
    LSTMForSequenceClassification(LSTMSentimentConfig(vocab_size=50, embedding_dim=4, hidden_size=4)).save_pretrained(
        model
    )
    (root / "not-a-model").mkdir()
    (root / "not-a-model" / "notes.txt").write_text("reviews, not a model\n")
    for broken in ("corrupt-config", "corrupt-weights"):
        shutil.copytree(model, root / broken)
    (root / "corrupt-config" / "config.json").write_text('{"model_type": "imdb_lstm", ')
    weights = (root / "corrupt-weights" / "model.safetensors").read_bytes()
    (root / "corrupt-weights" / "model.safetensors").write_bytes(weights[: len(weights) // 2])  # cut short
    return {
        "missing": root / "no-such-model",
        "not a model": root / "not-a-model",
        "corrupt config": root / "corrupt-config",
        "corrupt weights": root / "corrupt-weights",
    }


TINY_DATA = ["--dataset_name", "{dataset}", "--max_train_samples", "40", "--output_dir", "{tmp}"]
# What each case names: the folder, or the broken file in it.
NAMED = {"missing": "", "not a model": "", "corrupt config": "config.json", "corrupt weights": "model.safetensors"}
COMMANDS = {
    "predict.py": ["--model", "{model}", "A wonderful film."],
    "serve.py": ["--model", "lstm={model}"],
    "evaluate_model.py": ["{model}", "--dataset_name", "{dataset}", "--output_dir", "{tmp}"],
    "push_to_hub.py": ["{model}", "--repo_id", "user/imdb-lstm", "--dry_run"],
    "make_space.py": ["--model", "lstm={model}", "--output_dir", "{tmp}/space"],
    "finetune.py": ["configs/finetune/minilm.yaml", "--model_name_or_path", "{model}", *TINY_DATA],
    "train_verbalizer.py": ["configs/verbalizer_minilm.yaml", "--encoder_name_or_path", "{model}", *TINY_DATA],
}


# Every case through predict.py; the others share its check (`check_model_folder`), so two cases suffice there.
@pytest.mark.parametrize(
    "script, cases",
    [
        ("predict.py", tuple(NAMED)),
        ("serve.py", ("missing", "corrupt weights")),
        ("evaluate_model.py", ("missing", "corrupt weights")),
        ("push_to_hub.py", ("missing", "corrupt weights")),
        ("make_space.py", ("missing", "corrupt weights")),
        ("finetune.py", ("missing", "not a model")),
        ("train_verbalizer.py", ("missing", "not a model")),
    ],
)
def test_missing_or_broken_model_folders(script, cases, broken_model_folders, imdb_dataset, tmp_path):
    commands = {
        case: [
            SCRIPTS / script,
            *(
                a.format(model=broken_model_folders[case], dataset=imdb_dataset, tmp=tmp_path)
                for a in COMMANDS[script]
            ),
        ]
        for case in cases
    }
    for case, completed in run_all(commands, env={"SENTIMENT_API_KEYS": "a-key"}).items():
        assert_one_line_error(completed, str(broken_model_folders[case] / NAMED[case]))


def test_missing_or_empty_datasets_in_every_training_script(imdb_dataset, tmp_path):
    (tmp_path / "empty").mkdir()
    recipes = {
        TRAIN_SCRIPT: LSTM_RECIPE,
        SCRIPTS / "finetune.py": PROJECT_ROOT / "configs" / "finetune" / "minilm.yaml",
        VERBALIZER_SCRIPT: PROJECT_ROOT / "configs" / "verbalizer_minilm.yaml",
    }
    commands = {
        (script.name, dataset): [
            script,
            recipe,
            "--dataset_name",
            tmp_path / dataset,
            "--output_dir",
            tmp_path / "out",
        ]
        for script, recipe in recipes.items()
        for dataset in ("no-such-dataset", "empty")
        if script == TRAIN_SCRIPT or dataset == "no-such-dataset"  # every script shares `load_sentiment_splits`
    }
    for (_, dataset), completed in run_all(commands).items():
        assert_one_line_error(completed, str(tmp_path / dataset))
    assert not (tmp_path / "out").exists()
