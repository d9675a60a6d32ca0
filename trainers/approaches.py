"""The approaches of this project, in one place: for each, the script that trains it, its default recipe, the argument
classes that script parses, the recipe key that names the model it starts from, and whether `scripts/compare.py`
trains it by default.

Every run records its approach (`approach:` in `training_recipe.yaml`): the card, the recipe's header and the
comparison read it there instead of guessing from the recipe's keys. Adding an approach is one entry in `APPROACHES`,
plus its model code, its script, its recipes and what its model card says of it (trainers/card_descriptions.py).
"""

from dataclasses import dataclass

from .arguments import (
    BaseModelArguments,
    DataArguments,
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


@dataclass(frozen=True)
class Approach:
    name: str
    script: str  # relative to the project's root, as the card and the recipe's header show it
    recipe: str  # the default recipe, relative to the project's root
    argument_classes: tuple[type, ...]  # what the script parses, in the order it unpacks them
    base_model_key: str | None = None  # the recipe key naming the model the run starts from, if any
    compared_by_default: bool = True  # whether compare.py trains it when --approaches is not given


LSTM_ARGUMENTS = (
    DataArguments,
    LSTMArguments,
    PretrainedLSTMArguments,
    BaseModelArguments,
    SentimentTrainingArguments,
)
APPROACHES = {
    approach.name: approach
    for approach in (
        Approach("lstm", "scripts/train.py", "configs/lstm.yaml", LSTM_ARGUMENTS),
        Approach(
            "lstm_pretrained",
            "scripts/train.py",
            "configs/lstm_pretrained.yaml",
            LSTM_ARGUMENTS,
            base_model_key="pretrained_model_name_or_path",
            compared_by_default=False,  # it needs a pretraining folder (--base_model lstm_pretrained=FOLDER)
        ),
        Approach(
            "verbalizer",
            "scripts/train_verbalizer.py",
            "configs/verbalizer.yaml",
            (DataArguments, VerbalizerArguments, EncodingArguments, BaseModelArguments, SentimentTrainingArguments),
            base_model_key="encoder_name_or_path",
        ),
        Approach(
            "finetune",
            "scripts/finetune.py",
            "configs/finetune/modernbert.yaml",
            (DataArguments, EncoderArguments, BaseModelArguments, SentimentTrainingArguments),
            base_model_key="model_name_or_path",
        ),
        Approach(
            "word_vectors",
            "scripts/pretrain_word_vectors.py",
            "configs/pretrain/word_vectors.yaml",
            (PretrainingDataArguments, WordVectorArguments, SentimentTrainingArguments),
            compared_by_default=False,  # word vectors, not a classifier
        ),
        Approach(
            "pretraining",
            "scripts/pretrain.py",
            "configs/pretrain/lstm.yaml",
            (PretrainingDataArguments, LSTMArguments, SentimentTrainingArguments),
            compared_by_default=False,  # a language model, not a classifier
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


def parse_run_arguments(name: str, args: list[str] | None = None) -> tuple:
    """`parse_recipe` with the approach's argument classes: its dataclass instances, then the run's recipe, which
    records `approach: name` first. A recipe file that names another approach is refused."""
    approach = APPROACHES[name]
    sharing = tuple(other for other, entry in APPROACHES.items() if entry.script == approach.script)
    *instances, recipe = parse_recipe(approach.argument_classes, args, approaches=sharing)
    return (*instances, {"approach": name, **recipe})
