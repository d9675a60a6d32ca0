import subprocess
import sys
import typing

import pytest
import yaml

from trainers.approaches import APPROACHES, approach_of, parse_run_arguments
from trainers.arguments import SentimentTrainingArguments
from trainers.search import SEARCHABLE, SearchArguments, search_argument_classes

from ..conftest import PROJECT_ROOT


@pytest.mark.parametrize("name", list(APPROACHES))
def test_every_approach_has_its_script_and_a_recipe_that_parses_with_its_arguments(name, tmp_path):
    approach = APPROACHES[name]
    assert (PROJECT_ROOT / approach.script).is_file()
    *instances, recipe = parse_run_arguments(name, [str(PROJECT_ROOT / approach.recipe), "--output_dir", "out"])
    assert [type(instance) for instance in instances] == list(approach.argument_classes)
    assert isinstance(instances[-1], SentimentTrainingArguments)
    # The run records its approach, first; the recorded recipe parses back to the same recipe.
    assert next(iter(recipe)) == "approach" and recipe["approach"] == name and approach_of(recipe) is approach
    recorded = tmp_path / "training_recipe.yaml"
    recorded.write_text(yaml.safe_dump(recipe, sort_keys=False))
    assert parse_run_arguments(name, [str(recorded)])[-1] == recipe


def test_a_recipe_recorded_for_another_approach_is_refused(tmp_path):
    recorded = tmp_path / "training_recipe.yaml"
    *_, recipe = parse_run_arguments("finetune", [str(PROJECT_ROOT / APPROACHES["finetune"].recipe)])
    recorded.write_text(yaml.safe_dump(recipe, sort_keys=False))
    completed = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "train.py"), str(recorded)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "is for approach finetune; this script trains: lstm, lstm_pretrained" in completed.stderr


def test_a_recipe_without_approach_is_named_as_such():
    with pytest.raises(ValueError, match="records no known approach"):
        approach_of({"dataset_name": "stanfordnlp/imdb", "vocab_size": 30000})


def test_the_lstm_script_trains_lstm_pretrained_when_given_a_pretrained_folder():
    recipe = [str(PROJECT_ROOT / APPROACHES["lstm"].recipe)]
    assert parse_run_arguments("lstm", recipe)[-1]["approach"] == "lstm"
    given_a_folder = [*recipe, "--pretrained_model_name_or_path", "folder", "--pretrained_layers", "embeddings"]
    assert parse_run_arguments("lstm", given_a_folder)[-1]["approach"] == "lstm_pretrained"


def test_the_search_tunes_the_approaches_that_build_a_model_per_trial_with_their_scripts_arguments():
    assert SEARCHABLE == ("lstm", "lstm_pretrained", "finetune")
    assert typing.get_args(SearchArguments.__dataclass_fields__["approach"].type) == SEARCHABLE
    for name in SEARCHABLE:
        classes = search_argument_classes(APPROACHES[name])
        assert set(classes) == {*APPROACHES[name].argument_classes, SearchArguments}
