import json

import pytest

from ..helpers.recipe_arguments import PROJECT_ROOT, SNAPSHOT, parsed_recipe

PARSED_RECIPES = json.loads(SNAPSHOT.read_text())
# Configurations of `accelerate launch`, not recipes of the project's scripts.
NOT_RECIPES = PROJECT_ROOT / "configs" / "accelerate"


@pytest.mark.parametrize("expected", PARSED_RECIPES, ids=lambda entry: " ".join(entry["recipes"]))
def test_recipes_parse_to_their_snapshot(expected):
    parsed = parsed_recipe(expected["script"], expected["recipes"])
    assert parsed["recipe"] == expected["recipe"]
    assert parsed["arguments"] == expected["arguments"]


def test_every_recipe_is_in_the_snapshot():
    recipes = {
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "configs").rglob("*.y*ml")
        if not path.is_relative_to(NOT_RECIPES)
    }
    in_snapshot = {recipe for entry in PARSED_RECIPES for recipe in entry["recipes"]}
    assert recipes - in_snapshot == set(), "add its command to tests/helpers/recipe_arguments.py and its snapshot"
