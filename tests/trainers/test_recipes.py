import json
from pathlib import Path

import pytest
import yaml

from trainers.arguments import (
    BASE_RECIPE_KEY,
    DataArguments,
    LSTMArguments,
    SentimentTrainingArguments,
    parse_recipe,
    read_recipe_file,
)
from trainers.search import peek_approach

from ..helpers.recipe_arguments import PROJECT_ROOT, SNAPSHOT, parsed_recipe

PARSED_RECIPES = json.loads(SNAPSHOT.read_text())
# Configurations of `accelerate launch`, not recipes of the project's scripts.
NOT_RECIPES = PROJECT_ROOT / "configs" / "accelerate"
TYPES = (DataArguments, LSTMArguments, SentimentTrainingArguments)


@pytest.mark.parametrize("expected", PARSED_RECIPES, ids=lambda entry: " ".join(entry["recipes"]))
def test_recipes_parse_to_their_snapshot(expected):
    parsed = parsed_recipe(expected["script"], expected["recipes"])
    assert parsed["arguments"] == expected["arguments"]
    # The run records what its recipe files name, so also what a base recipe names at its default value and the
    # recipe left out before (e.g. `lr_scheduler_type: linear`): no value changes, as the arguments show.
    assert parsed["recipe"].items() >= expected["recipe"].items()


def with_its_bases(recipe: Path):
    """The recipe file and those it extends, one after the other."""
    while recipe is not None:
        yield recipe
        base = (yaml.safe_load(recipe.read_text()) or {}).get(BASE_RECIPE_KEY)
        recipe = (recipe.parent / base).resolve() if base else None


def test_every_recipe_is_in_the_snapshot_or_extended_by_one():
    recipes = {path for path in (PROJECT_ROOT / "configs").rglob("*.y*ml") if not path.is_relative_to(NOT_RECIPES)}
    in_snapshot = {
        path
        for entry in PARSED_RECIPES
        for recipe in entry["recipes"]
        for path in with_its_bases(PROJECT_ROOT / recipe)
    }
    assert recipes - in_snapshot == set(), "add its command to tests/helpers/recipe_arguments.py and its snapshot"


def test_a_recipe_extends_its_base_recipe_and_records_the_merged_values(tmp_path):
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases" / "root.yaml").write_text("hidden_size: 16\npooling: max\noutput_dir: root\n")
    (tmp_path / "bases" / "middle.yaml").write_text("base_recipe: root.yaml\npooling: attention\nseed: 3\n")
    (tmp_path / "overlay.yaml").write_text("base_recipe: bases/middle.yaml\nseed: 5\n")
    data_args, model_args, training_args, recipe = parse_recipe(TYPES, [str(tmp_path / "overlay.yaml")])
    assert (model_args.hidden_size, model_args.pooling, training_args.seed) == (16, "attention", 5)
    assert recipe.items() >= {"hidden_size": 16, "pooling": "attention", "seed": 5, "output_dir": "root"}.items()
    assert BASE_RECIPE_KEY not in recipe
    # Read from another directory: the base is found next to the file naming it, not in the working directory.
    assert read_recipe_file(tmp_path / "bases" / ".." / "overlay.yaml") == read_recipe_file(tmp_path / "overlay.yaml")


def test_a_cut_named_on_the_command_line_replaces_the_recipes_whole_cut(capsys):
    """configs/lstm.yaml reads a long review's head and tail (head_tokens 128): `--truncation head` asks for the head
    alone, without also unsetting head_tokens; `--truncation head_tail` asks for its own head_tokens."""
    recipe = str(PROJECT_ROOT / "configs" / "lstm.yaml")
    data_args, *_ = parse_recipe(TYPES, [recipe])
    assert (data_args.truncation, data_args.head_tokens) == ("head_tail", 128)
    data_args, *_, recorded = parse_recipe(TYPES, [recipe, "--truncation", "head"])
    assert (data_args.truncation, data_args.head_tokens) == ("head", None) and "head_tokens" not in recorded
    data_args, *_ = parse_recipe(TYPES, [recipe, "--truncation=head_tail", "--head_tokens", "64"])
    assert (data_args.truncation, data_args.head_tokens) == ("head_tail", 64)
    with pytest.raises(SystemExit):
        parse_recipe(TYPES, [recipe, "--truncation", "head_tail"])
    assert "head_tokens goes with truncation head_tail" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a shorter cut than the recipe's head leaves nothing for the end
        parse_recipe(TYPES, [recipe, "--max_length", "128"])
    assert "head_tokens 128 leaves nothing of max_length 128" in capsys.readouterr().err


def test_a_missing_or_circular_base_recipe_stops_with_a_message_naming_the_files(tmp_path, capsys):
    (tmp_path / "overlay.yaml").write_text("base_recipe: missing.yaml\nseed: 5\n")
    with pytest.raises(SystemExit):
        parse_recipe(TYPES, [str(tmp_path / "overlay.yaml")])
    assert f"recipe {tmp_path / 'missing.yaml'}, the base recipe of {tmp_path / 'overlay.yaml'}, does not exist" in (
        capsys.readouterr().err
    )
    (tmp_path / "a.yaml").write_text("base_recipe: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base_recipe: a.yaml\n")
    with pytest.raises(SystemExit):
        parse_recipe(TYPES, [str(tmp_path / "a.yaml")])
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert f"recipe {a} extends itself: {a} -> {b} -> {a}" in capsys.readouterr().err


def test_the_search_reads_its_approach_through_the_base_recipe(tmp_path):
    (tmp_path / "base.yaml").write_text("approach: finetune\n")
    (tmp_path / "overlay.yaml").write_text("base_recipe: base.yaml\nn_trials: 3\n")
    assert peek_approach([str(tmp_path / "overlay.yaml"), "--seed", "1"]) == "finetune"
