import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from evaluation.comparison import measure_folder, summarize
from evaluation.report import hard_case_summary, load_minimal_pairs, load_tricky_reviews, score_hard_cases
from inference.predictor import load_predictor
from model_cards.card_descriptions import DESCRIPTIONS, base_model_hub_id, base_model_name
from model_cards.model_card import (
    build_model_card,
    dataset_hub_id,
    validate_model_card,
    write_model_card,
)
from trainers.approaches import APPROACHES
from trainers.data import load_sentiment_splits

from ..conftest import assert_card_lists_versions, installed_versions, run_without_project


def test_every_approach_has_its_cards_description():
    assert set(DESCRIPTIONS) == set(APPROACHES)


def test_training_wrote_a_card_whose_metadata_equals_the_metrics_file(trained_lstm_folder):
    card = ModelCard.load(trained_lstm_folder / "README.md")
    results = json.loads((trained_lstm_folder / "all_results.json").read_text())
    metrics = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert metrics == {"accuracy": results["test_accuracy"], "f1": results["test_f1"]}
    assert {result.dataset_type for result in card.data.eval_results} == {"stanfordnlp/imdb"}
    assert card.data.pipeline_tag == "text-classification" and card.data.license == "apache-2.0"
    assert card.data.datasets == ["stanfordnlp/imdb"]
    # The body's table shows the same numbers, rounded for people.
    assert f"{100 * results['test_accuracy']:.2f}%" in card.text
    assert f"{results['num_parameters']:,}" in card.text
    # Its code snippets load the repository named after the folder, not the folder the card was written in.
    assert f'from_pretrained("{trained_lstm_folder.name}"' in card.text and '"unfinished"' not in card.text
    validate_model_card(card, trained_lstm_folder)


def test_card_lists_the_versions_the_run_trained_with(trained_lstm_folder, tmp_path):
    results = json.loads((trained_lstm_folder / "all_results.json").read_text())
    assert results["software_versions"] == installed_versions()
    assert_card_lists_versions(ModelCard.load(trained_lstm_folder / "README.md").text, installed_versions())

    # A card generated later, on another machine, states the versions the run recorded, not that machine's.
    folder = tmp_path / "model"
    shutil.copytree(trained_lstm_folder, folder, ignore=shutil.ignore_patterns("checkpoint-*"))
    recorded = {**installed_versions(), "python": "3.10.1", "torch": "2.4.0+cu121", "transformers": "5.0.0"}
    (folder / "all_results.json").write_text(json.dumps({**results, "software_versions": recorded}))
    text = build_model_card(folder, repo_id="user/imdb-lstm").text
    assert_card_lists_versions(text, recorded)
    assert f"- torch {installed_versions()['torch']}" not in text

    # A folder trained before runs recorded their versions still gets a card, without the section.
    del results["software_versions"]
    (folder / "all_results.json").write_text(json.dumps(results))
    assert "### Framework versions" not in build_model_card(folder, repo_id="user/imdb-lstm").text


def test_training_scored_the_hard_cases_that_the_card_shows(trained_lstm_folder, tmp_path):
    results = json.loads((trained_lstm_folder / "all_results.json").read_text())
    pairs, tricky = results["minimal_pairs"], results["tricky_reviews"]
    assert pairs["count"] == len(load_minimal_pairs()) and tricky["count"] == len(load_tricky_reviews())
    # The run scored its folder as users load it: scored again from the folder, the same figures.
    predictor = load_predictor("model", str(trained_lstm_folder))
    scored = score_hard_cases(
        predictor.predict_probabilities, predictor.labels, load_tricky_reviews(), load_minimal_pairs()
    )
    assert hard_case_summary(scored) == {"tricky_reviews": tricky, "minimal_pairs": pairs}
    card = ModelCard.load(trained_lstm_folder / "README.md").text
    assert card.index("## Intended use") < card.index("## Hard cases") < card.index("## Training")
    assert f"Both sides right on {100 * pairs['consistency']:.2f}% of {pairs['count']} pairs" in card
    assert f"{100 * tricky['accuracy']:.2f}% right; by category:" in card
    negation = pairs["by_phenomenon"]["negation"]
    assert f"| negation | {negation['count']} | {100 * negation['consistency']:.2f}% |" in card

    # The card's figures are the results file's: changed there, changed in the card; absent there, no section.
    folder = tmp_path / "model"
    shutil.copytree(trained_lstm_folder, folder, ignore=shutil.ignore_patterns("checkpoint-*"))
    results["minimal_pairs"]["consistency"] = 0.123456
    (folder / "all_results.json").write_text(json.dumps(results))
    assert f"Both sides right on 12.35% of {pairs['count']} pairs" in build_model_card(folder, repo_id="u/m").text
    del results["minimal_pairs"], results["tricky_reviews"]
    (folder / "all_results.json").write_text(json.dumps(results))
    text = build_model_card(folder, repo_id="u/m").text
    assert "## Hard cases" not in text and "Both sides right" not in text
    assert "language of IMDB reviewers.\n\n## Training\n" in text  # as before the section existed


def test_validation_catches_a_card_that_disagrees_with_the_metrics(trained_lstm_folder, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained_lstm_folder, folder, ignore=shutil.ignore_patterns("checkpoint-*"))
    card = build_model_card(folder, repo_id="user/imdb-lstm")
    results = json.loads((folder / "all_results.json").read_text())
    results["test_accuracy"] = 0.999
    (folder / "all_results.json").write_text(json.dumps(results))
    with pytest.raises(ValueError, match="all_results.json says 0.999"):
        validate_model_card(card, folder)


def test_card_needs_a_hub_dataset_id_when_trained_on_a_local_copy(tmp_path):
    local_copy = tmp_path / "imdb"
    local_copy.mkdir()
    assert (
        dataset_hub_id({"dataset_name": str(local_copy), "dataset_hub_id": "stanfordnlp/imdb"}) == "stanfordnlp/imdb"
    )
    assert dataset_hub_id({"dataset_name": "stanfordnlp/imdb", "dataset_hub_id": None}) == "stanfordnlp/imdb"
    with pytest.raises(ValueError, match="--dataset_hub_id"):
        dataset_hub_id({"dataset_name": str(local_copy), "dataset_hub_id": None})


def test_the_card_names_the_encoder_by_hub_id_never_by_a_local_path(tmp_path):
    local = tmp_path / "all-MiniLM-L6-v2"
    local.mkdir()
    finetuned = {"approach": "finetune", "model_name_or_path": str(local)}
    assert base_model_hub_id(finetuned) is None
    assert base_model_name(finetuned) == "a local folder named 'all-MiniLM-L6-v2'"
    recipe = {
        "approach": "verbalizer",
        "encoder_name_or_path": str(local),
        "base_model_hub_id": "sentence-transformers/all-MiniLM-L6-v2",
    }
    assert base_model_hub_id(recipe) == base_model_name(recipe) == "sentence-transformers/all-MiniLM-L6-v2"
    hub = {"approach": "finetune", "model_name_or_path": "answerdotai/ModernBERT-base"}
    assert base_model_hub_id(hub) == "answerdotai/ModernBERT-base"
    assert base_model_hub_id({"approach": "lstm", "vocab_size": 30000}) is None  # learned from scratch


def test_the_card_shows_a_comparison_table_measured_on_the_folder(trained_lstm_folder, imdb_dataset, tmp_path):
    # The folder's test reviews (seed 42, 300 of them), measured as scripts/compare.py measures every run.
    splits = load_sentiment_splits(imdb_dataset, seed=42, max_train_samples=2000, max_test_samples=300)
    row = {"seed": 42, **measure_folder(trained_lstm_folder, splits, list(splits["test"]["text"][:20]), "cpu")}
    report = {"setting": "quick", "sizes": {"max_test_samples": 300}, "seeds": [42], "device": "cpu",
              "torch_threads": 1, "speed_samples": 20, "command": "python scripts/compare.py --quick",
              "summary": {"lstm": summarize([row])}, "runs": {"lstm": [row]}}  # fmt: skip
    path = tmp_path / "comparison.json"
    path.write_text(json.dumps(report))
    card = build_model_card(trained_lstm_folder, repo_id="user/imdb-lstm", comparison=path)
    results = json.loads((trained_lstm_folder / "all_results.json").read_text())
    assert "## Compared with other approaches" in card.text and "`python scripts/compare.py --quick`" in card.text
    assert f"| lstm | 1,800 | 300 | 1 | {100 * results['test_accuracy']:.2f} |" in card.text
    path.write_text(json.dumps({"summary": {}}))
    with pytest.raises(ValueError, match="not a comparison.json"):
        build_model_card(trained_lstm_folder, repo_id="user/imdb-lstm", comparison=path)


def test_usage_snippets_run_as_written_against_the_folder(trained_lstm_folder, tmp_path):
    # The card names the repository; pointed at the local folder, its code must run unchanged.
    card = build_model_card(trained_lstm_folder, repo_id=str(trained_lstm_folder))
    snippets = re.findall(r"```python\n(.*?)```", card.text, flags=re.DOTALL)
    assert len(snippets) == 2
    for index, snippet in enumerate(snippets):
        script = tmp_path / f"snippet_{index}.py"
        script.write_text(snippet)
        completed = run_without_project(script, cwd=tmp_path)
        assert completed.returncode == 0, completed.stderr[-3000:]
        assert "'pos'" in completed.stdout and "'neg'" in completed.stdout


def test_recipe_in_the_card_is_the_runs_recipe_without_local_paths(trained_lstm_folder):
    card = ModelCard.load(trained_lstm_folder / "README.md")
    recipe_block = yaml.safe_load(re.search(r"```yaml\n(.*?)```", card.text, flags=re.DOTALL).group(1))
    recipe_file = yaml.safe_load((trained_lstm_folder / "training_recipe.yaml").read_text())
    # The run read a local copy of IMDB into a folder of this machine; the card names the Hub dataset instead.
    assert Path(recipe_file["dataset_name"]).is_dir() and "output_dir" in recipe_file
    expected = {key: value for key, value in recipe_file.items() if key != "output_dir"}
    assert recipe_block == {**expected, "dataset_name": recipe_file["dataset_hub_id"]}
    assert "python scripts/train.py recipe.yaml" in card.text


def test_write_model_card_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a trained model folder"):
        write_model_card(tmp_path)
