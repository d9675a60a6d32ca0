import json
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from ..conftest import IMDB_CLASSES, MINILM_HUB_ID, load_folder_without_project


@pytest.mark.parametrize(
    "encoder_fixture, folder_fixture, model_type, hub_id, attention_dropout",
    [
        # The fixtures ask --attention_dropout, which each encoder's config names its own way.
        ("random_modernbert_folder", "finetuned_modernbert_folder", "modernbert", None, {"attention_dropout": 0.05}),
        ("minilm_path", "finetuned_minilm_folder", "bert", MINILM_HUB_ID, {"attention_probs_dropout_prob": 0.0}),
    ],
)
def test_finetuned_folder_labels_reviews_in_a_fresh_process(
    request, encoder_fixture, folder_fixture, model_type, hub_id, attention_dropout, imdb_splits, tmp_path
):
    encoder = str(request.getfixturevalue(encoder_fixture))
    output_dir = request.getfixturevalue(folder_fixture)
    # The card names the encoder by its Hub id when given one, and never by a path of this machine.
    card = ModelCard.load(output_dir / "README.md")
    assert card.data.base_model == hub_id
    assert (hub_id or f"a local folder named '{Path(encoder).name}'") in card.text and encoder not in card.text

    results = json.loads((output_dir / "all_results.json").read_text())
    assert results["num_trainable_parameters"] == results["num_parameters"], "fine-tuned end to end"
    assert (results["train_samples"], results["test_samples"]) == (180, 64)
    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 6 and state["train_batch_size"] == 8
    config = json.loads((output_dir / "config.json").read_text())
    assert config["model_type"] == model_type and config["id2label"] == {"0": "neg", "1": "pos"}
    assert config.items() >= attention_dropout.items()
    recipe = yaml.safe_load((output_dir / "training_recipe.yaml").read_text())
    assert recipe["attention_dropout"] == next(iter(attention_dropout.values())), "the card's recipe repeats the run"
    assert json.loads((output_dir / "tokenizer_config.json").read_text())["model_max_length"] == 128

    texts = list(imdb_splits["test"]["text"][:16])
    long_review = " ".join(" ".join(imdb_splits["test"]["text"]).split()[:5000])
    seen = load_folder_without_project(output_dir, texts, long_review, tmp_path)
    assert seen["pipeline_labels"] == seen["model_labels"] and len(seen["pipeline_labels"]) == 16
    assert seen["long_review_tokens_after_truncation"] == seen["model_max_length"] == 128
    assert sorted(score["label"] for score in seen["long_review_scores"]) == IMDB_CLASSES
