import json
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from ..conftest import MINILM_HUB_ID, PROJECT_ROOT, load_folder_without_project

FINETUNE_SCRIPT = PROJECT_ROOT / "scripts" / "finetune.py"
RECIPES = PROJECT_ROOT / "configs" / "finetune"


def finetune(encoder: str, recipe: str, output_dir, imdb_dataset: str, *extra: str) -> subprocess.CompletedProcess:
    """A few optimizer steps of a real recipe on 200 real reviews: enough to exercise the whole path."""
    command = [
        sys.executable, str(FINETUNE_SCRIPT), str(RECIPES / recipe), str(RECIPES / "presets" / "aggressive.yaml"),
        "--model_name_or_path", encoder, "--dataset_name", imdb_dataset, "--output_dir", str(output_dir),
        "--max_train_samples", "200", "--max_test_samples", "64", "--max_length", "128", "--head_tokens", "32",
        "--per_device_train_batch_size", "8", "--max_steps", "6", "--eval_strategy", "steps", "--eval_steps", "3",
        "--save_strategy", "steps", "--save_steps", "3", "--disable_tqdm", "true", *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)


@pytest.mark.parametrize(
    "encoder_fixture, recipe, model_type, hub_id",
    [
        ("random_modernbert_folder", "modernbert.yaml", "modernbert", None),
        ("minilm_path", "minilm.yaml", "bert", MINILM_HUB_ID),
    ],
)
def test_finetuned_folder_labels_reviews_in_a_fresh_process(
    request, encoder_fixture, recipe, model_type, hub_id, imdb_dataset, imdb_splits, tmp_path
):
    encoder = str(request.getfixturevalue(encoder_fixture))
    output_dir = tmp_path / "finetuned"
    completed = finetune(
        encoder, recipe, output_dir, imdb_dataset, *(["--base_model_hub_id", hub_id] if hub_id else [])
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    # The card names the encoder by its Hub id when given one, and never by a path of this machine.
    card = ModelCard.load(output_dir / "README.md")
    assert card.data.base_model == hub_id
    assert (hub_id or f"a local encoder named '{Path(encoder).name}'") in card.text and encoder not in card.text

    results = json.loads((output_dir / "all_results.json").read_text())
    assert results["num_trainable_parameters"] == results["num_parameters"], "fine-tuned end to end"
    assert (results["train_samples"], results["test_samples"]) == (180, 64)
    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 6 and state["train_batch_size"] == 8
    config = json.loads((output_dir / "config.json").read_text())
    assert config["model_type"] == model_type and config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    assert json.loads((output_dir / "tokenizer_config.json").read_text())["model_max_length"] == 128

    texts = list(imdb_splits["test"]["text"][:16])
    long_review = " ".join(" ".join(imdb_splits["test"]["text"]).split()[:5000])
    seen = load_folder_without_project(output_dir, texts, long_review, tmp_path)
    assert seen["pipeline_labels"] == seen["model_labels"] and len(seen["pipeline_labels"]) == 16
    assert seen["long_review_tokens_after_truncation"] == seen["model_max_length"] == 128
    assert sorted(score["label"] for score in seen["long_review_scores"]) == ["NEGATIVE", "POSITIVE"]
