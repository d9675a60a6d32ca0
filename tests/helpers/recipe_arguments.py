"""What every recipe of configs/ parses to, with the arguments of the script that takes it.

    python -m tests.helpers.recipe_arguments   # writes tests/data/recipe_arguments.json

The snapshot is taken once, and taken again only when a recipe is meant to change: tests/trainers/test_recipes.py
checks that the recipes still parse to it, so reshaping them (e.g. into overlays of a base recipe) changes no value.
"""

import dataclasses
import json
from pathlib import Path

from transformers import TrainingArguments

from trainers.approaches import APPROACHES
from trainers.arguments import parse_recipe
from trainers.search import peek_approach, search_argument_classes

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = PROJECT_ROOT / "tests" / "data" / "recipe_arguments.json"
FINETUNE_MODELS = ("albert", "bert", "distilbert", "minilm", "modernbert")
FINETUNE_PRESETS = ("aggressive", "balanced", "conservative")
REFERENCE_OVERLAYS = ("bilstm_2x256", "bilstm_attention", "lstm_148m", "lstm_15m", "lstm_45m")
# Each script with the recipe files its commands take, in command-line order (an overlay after its base recipe).
COMMANDS = {
    "scripts/train.py": [
        ["configs/lstm.yaml"],
        ["configs/lstm_pretrained.yaml"],
        ["configs/lstm_adversarial.yaml"],
        ["configs/lstm_semi_supervised.yaml"],
        *(["configs/lstm.yaml", f"configs/reference/{overlay}.yaml"] for overlay in REFERENCE_OVERLAYS),
    ],
    "scripts/finetune.py": [
        *([f"configs/finetune/{model}.yaml"] for model in FINETUNE_MODELS),
        *(
            [f"configs/finetune/{model}.yaml", f"configs/finetune/presets/{preset}.yaml"]
            for model in FINETUNE_MODELS
            for preset in FINETUNE_PRESETS
        ),
        ["configs/finetune/minilm_2ep.yaml"],
        ["configs/finetune/minilm_2ep_no_attention_dropout.yaml"],
    ],
    "scripts/train_verbalizer.py": [["configs/verbalizer.yaml"], ["configs/verbalizer_minilm.yaml"]],
    "scripts/pretrain.py": [["configs/pretrain/lstm.yaml"]],
    "scripts/pretrain_word_vectors.py": [["configs/pretrain/word_vectors.yaml"]],
    "scripts/search.py": [["configs/search/lstm.yaml"]],
    "scripts/distill.py": [
        *(
            [f"configs/distill/{teacher}_teacher.yaml"]
            for teacher in (
                "minilm",
                "minilm_2ep",
                "minilm_2ep_no_attention_dropout",
                "minilm_nbsvm",
                "nbsvm",
                "modernbert",
                "ensemble",
            )
        ),
        ["configs/distill/minilm_2ep_teacher_96.yaml"],
    ],
}


def argument_types(script: str, recipes: list[str]) -> tuple[type, ...]:
    """The dataclasses `script` parses `recipes` into: those of its approach in the registry (for the search, those
    of the approach its recipe names)."""
    if script == "scripts/search.py":
        return search_argument_classes(APPROACHES[peek_approach(recipes)])
    return next(approach.argument_classes for approach in APPROACHES.values() if approach.script == script)


def parsed_recipe(script: str, recipes: list[str]) -> dict:
    """The run's recipe and every argument's value that `script` gets from `recipes`, as JSON reads them back.

    The training arguments include `TrainingArguments`' own defaults: a transformers upgrade that changes what the
    recipes train with shows here too (take the snapshot again)."""
    paths = [str(PROJECT_ROOT / recipe) for recipe in recipes]
    *instances, run_recipe = parse_recipe(argument_types(script, paths), paths)
    arguments = {
        type(instance).__name__: instance.to_dict()
        if isinstance(instance, TrainingArguments)
        else dataclasses.asdict(instance)
        for instance in instances
    }
    return json.loads(json.dumps({"recipe": run_recipe, "arguments": arguments}))


def parsed_recipes() -> list[dict]:
    return [
        {"script": script, "recipes": recipes, **parsed_recipe(script, recipes)}
        for script, commands in COMMANDS.items()
        for recipes in commands
    ]


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(parsed_recipes(), indent=1) + "\n")
    print(f"wrote {SNAPSHOT}")
