"""The approaches of this project, in one place: for each, the script that trains it, its default recipe, the argument
classes that script parses (the data's, the model's and the others, by name), what builds its tokenizer and models
from them (which makes it searchable), the recipe key that names the model it starts from, whether it trains a
classifier, and whether `scripts/compare.py` trains it by default. The scripts and the search ask it.

Every run records its approach (`approach:` in `training_recipe.yaml`): the card, the recipe's header and the
comparison read it there instead of guessing from the recipe's keys. Adding an approach is one entry in `APPROACHES`,
plus its model code, its script, its recipes and what its model card says of it (model_cards/card_descriptions.py).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from datasets import DatasetDict

from .arguments import (
    BaseModelArguments,
    DataArguments,
    DistillationArguments,
    EncoderArguments,
    EncodingArguments,
    LSTMArguments,
    PretrainedLSTMArguments,
    PretrainingDataArguments,
    SentimentTrainingArguments,
    VerbalizerArguments,
    WordVectorArguments,
    parse_recipe,
)
from .builders import ModelFactory, finetuned_models, lstm_models, pretrained_lstm_models, student_lstm_models


@dataclass(frozen=True)
class Approach:
    name: str
    script: str  # relative to the project's root, as the card and the recipe's header show it
    recipe: str  # the default recipe, relative to the project's root
    data_arguments: type  # the dataset's arguments
    model_arguments: type  # the model's hyperparameters
    other_arguments: tuple[type, ...] = ()  # what else the script parses, between the model's and the training's
    # The tokenizer and a builder of fresh models, from the run's parsed arguments (by class), its recipe and its
    # splits: what the training script builds, and what the search builds once per trial (see `searchable`).
    build_models: Callable[[Mapping[type, Any], dict, DatasetDict], ModelFactory] | None = None
    base_model_key: str | None = None  # the recipe key naming the model the run starts from, if any
    classifier: bool = True  # whether it trains a sentiment classifier (not word vectors or a language model)
    compared_by_default: bool = True  # whether compare.py trains it (a classifier) when --approaches is not given
    # Whether scripts/search.py may tune it with `build_models` alone (distillation also needs its teachers' labels).
    tunable: bool = True

    @property
    def argument_classes(self) -> tuple[type, ...]:
        """What the script parses, in the order it unpacks them."""
        return (self.data_arguments, self.model_arguments, *self.other_arguments, SentimentTrainingArguments)

    @property
    def searchable(self) -> bool:
        """Whether scripts/search.py can tune it: it builds a fresh model for each trial."""
        return self.build_models is not None and self.tunable


APPROACHES = {
    approach.name: approach
    for approach in (
        Approach(
            "lstm",
            "scripts/train.py",
            "configs/lstm.yaml",
            DataArguments,
            LSTMArguments,
            (PretrainedLSTMArguments, BaseModelArguments),
            build_models=lstm_models,
        ),
        Approach(
            "lstm_pretrained",
            "scripts/train.py",
            "configs/lstm_pretrained.yaml",
            DataArguments,
            LSTMArguments,
            (PretrainedLSTMArguments, BaseModelArguments),
            build_models=pretrained_lstm_models,
            base_model_key="pretrained_model_name_or_path",
            compared_by_default=False,  # it needs a pretraining folder (--base_model lstm_pretrained=FOLDER)
        ),
        Approach(
            "lstm_distilled",
            "scripts/distill.py",
            "configs/distill/minilm_teacher.yaml",
            DataArguments,
            LSTMArguments,
            (PretrainedLSTMArguments, BaseModelArguments, DistillationArguments),
            build_models=student_lstm_models,
            compared_by_default=False,  # it needs its teachers (their folders, named by its recipe)
            tunable=False,
        ),
        Approach(
            "verbalizer",
            "scripts/train_verbalizer.py",
            "configs/verbalizer.yaml",
            DataArguments,
            VerbalizerArguments,
            (EncodingArguments, BaseModelArguments),
            base_model_key="encoder_name_or_path",
        ),
        Approach(
            "finetune",
            "scripts/finetune.py",
            "configs/finetune/modernbert.yaml",
            DataArguments,
            EncoderArguments,
            (BaseModelArguments,),
            build_models=finetuned_models,
            base_model_key="model_name_or_path",
        ),
        Approach(
            "word_vectors",
            "scripts/pretrain_word_vectors.py",
            "configs/pretrain/word_vectors.yaml",
            PretrainingDataArguments,
            WordVectorArguments,
            classifier=False,
        ),
        Approach(
            "pretraining",
            "scripts/pretrain.py",
            "configs/pretrain/lstm.yaml",
            PretrainingDataArguments,
            LSTMArguments,
            classifier=False,
        ),
    )
}


def approach_of(recipe: dict) -> Approach:
    """The approach a run's recipe (`training_recipe.yaml`) records."""
    name = recipe.get("approach")
    if name not in APPROACHES:
        raise ValueError(
            f"The run's recipe records no known approach (approach: {name!r}; known: {', '.join(APPROACHES)}): "
            "was it written by an older version of this project? Add the `approach:` line that fits it."
        )
    return APPROACHES[name]


def run_approach(name: str, recipe: dict) -> Approach:
    """Which of the approaches that `name`'s training script trains a run's recipe is: the one whose starting model
    the recipe names (`base_model_key`; lstm_pretrained, given a pretrained folder), else `name`."""
    script = APPROACHES[name].script
    starting = [
        approach
        for approach in APPROACHES.values()
        if approach.script == script and approach.base_model_key and recipe.get(approach.base_model_key)
    ]
    return starting[0] if starting else APPROACHES[name]


def parse_run_arguments(name: str, args: list[str] | None = None) -> tuple:
    """`parse_recipe` with the argument classes of `name`'s script: its dataclass instances, then the run's recipe,
    which records the run's approach first (`run_approach`). A recipe file that names another script's approach is
    refused."""
    approach = APPROACHES[name]
    sharing = tuple(other for other, entry in APPROACHES.items() if entry.script == approach.script)
    *instances, recipe = parse_recipe(approach.argument_classes, args, approaches=sharing)
    return (*instances, {"approach": run_approach(name, recipe).name, **recipe})


def arguments_by_class(instances: Iterable) -> dict[type, Any]:
    """The parsed dataclass instances by their class, as `Approach.build_models` takes them."""
    return {type(instance): instance for instance in instances}
