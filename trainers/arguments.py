"""Command-line arguments: a YAML recipe plus `--key value` overrides, parsed into dataclasses.

A model's hyperparameters are declared once, in its config class; `config_arguments` turns that class's own fields
into a dataclass for `HfArgumentParser`, so recipes and the command line can set them without a second list here.
"""

import argparse
import dataclasses
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from transformers import HfArgumentParser, PreTrainedConfig, TrainingArguments

from inference.predictor import BACKENDS
from models import LSTMSentimentConfig, VerbalizerConfig
from models.verbalizer.configuration_verbalizer import DEFAULT_ENCODER

from .data import DATA_FILE_FIELDS, DATASET_FIELDS, DEFAULT_VALIDATION_FRACTION, DatasetSource

# Recorded in every run's recipe even at their defaults: the seed repeats the run, and the data, the encoder or
# pretrained LSTM a run started from, the tokens it kept (and how) and a pretraining run's segments are what its
# model card states (a default can change between versions).
ALWAYS_RECORDED = (
    "seed",
    "dataset_name",
    "max_length",
    "truncation",
    "model_name_or_path",
    "encoder_name_or_path",
    "pretrained_model_name_or_path",
    "segment_length",
)
# How this run was started, not what it is: its recipe, run again elsewhere, trains from the start.
NEVER_RECORDED = ("resume_from_checkpoint",)
# (arguments given on the command line, the recipe entries they replace): data files replace a dataset and the other
# way round; a cut replaces the recipe's head_tokens, which go with the recipe's cut.
REPLACING_FIELDS = (
    (DATA_FILE_FIELDS, DATASET_FIELDS),
    (DATASET_FIELDS, DATA_FILE_FIELDS),
    (("truncation",), ("head_tokens",)),
)
# The key by which a recipe file names the recipe it extends: its own entries override that recipe's.
BASE_RECIPE_KEY = "base_recipe"


@dataclass
class ReviewDataArguments(DatasetSource):
    """What every run that learns from the dataset's reviews shares: the classifier's validation split (which
    pretraining leaves out, so that it stays unseen), subsets of the labeled and unlabeled reviews, and the word
    vocabulary learned on them."""

    validation_fraction: float = field(
        default=DEFAULT_VALIDATION_FRACTION,
        metadata={
            "help": "Share of train carved out (stratified, seeded) as the classifier's validation split, when the "
            "dataset has no validation split of its own; pretraining leaves these reviews out, so give it the "
            "classifier recipe's value and seed."
        },
    )
    split_seed: int | None = field(
        default=None,
        metadata={
            "help": "Seed of the validation split (and of the subsets of labeled reviews); by default the run's "
            "--seed. Runs that give one split_seed and their own --seed differ only in training: e.g. several "
            "students of a teacher that was trained, and validated, on that split."
        },
    )
    max_train_samples: int | None = field(
        default=None,
        metadata={"help": "Use a seeded random subset of this many labeled training reviews (before the split)."},
    )
    max_length: int = field(
        default=512,
        metadata={"help": "Tokens kept per review, special tokens (and a verbalizer's template) included."},
    )
    min_frequency: int = field(
        default=2,
        metadata={
            "help": "Words seen fewer times in the reviews the vocabulary is learned on (the training split, or the "
            "pretraining reviews) become [UNK]."
        },
    )
    max_unlabeled_samples: int | None = field(
        default=None,
        metadata={
            "help": "Use a seeded random subset of this many reviews of the dataset's unlabeled split: those "
            "pretraining reads, or those read by a model that learns from unlabeled reviews (virtual adversarial "
            "training, entropy minimisation)."
        },
    )

    def seed_of_split(self, run_seed: int) -> int:
        """The seed that carves this run's validation split: `split_seed`, else the run's own."""
        return run_seed if self.split_seed is None else self.split_seed


@dataclass
class DataArguments(ReviewDataArguments):
    max_test_samples: int | None = field(
        default=None, metadata={"help": "Evaluate on a seeded random subset of this many test reviews."}
    )
    truncation: Literal["head", "tail", "head_tail"] = field(
        default="head",
        metadata={
            "help": "What a longer review keeps: its start (head), its end (tail), or its first head_tokens tokens "
            "and its end (head_tail). Saved with the tokenizer, so every door that loads the model cuts alike."
        },
    )
    head_tokens: int | None = field(
        default=None,
        metadata={
            "help": "With truncation head_tail (and only then): tokens kept from a long review's start, a leading "
            "special token such as [CLS] included; the rest of max_length comes from its end."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if (self.head_tokens is not None) != (self.truncation == "head_tail"):
            raise ValueError(
                f"head_tokens goes with truncation head_tail, and only with it; got truncation {self.truncation} "
                f"and head_tokens {self.head_tokens}."
            )
        if self.head_tokens is not None and self.head_tokens >= self.max_length:
            raise ValueError(
                f"head_tokens {self.head_tokens} leaves nothing of max_length {self.max_length} for a long review's "
                "end: give --head_tokens below max_length, or --truncation head."
            )


@dataclass
class PretrainingDataArguments(ReviewDataArguments):
    """The classifier's data arguments, so that pretraining leaves out the reviews the classifier validates on, and
    how much of the dataset's unlabeled split (`trainers.data.UNLABELED_SPLIT`) it reads."""

    lm_validation_samples: int = field(
        default=1000,
        metadata={
            "help": "Unlabeled reviews held out (seeded) to measure validation perplexity, never trained on (word "
            "vectors measure none: 0 reads them all)."
        },
    )
    pretrain_on_training_reviews: bool = field(
        default=True,
        metadata={
            "help": "Also read the labeled training reviews' text (the classifier's validation reviews left out, as "
            "the seed and validation_fraction carve them). With false, only the unlabeled split: one folder then "
            "serves the classifier runs of every seed, since it read none of their validation reviews."
        },
    )
    segment_length: int = field(
        default=128, metadata={"help": "Tokens per training segment: reviews are packed and cut to this length."}
    )
    max_length: int = field(
        default=1024,
        metadata={
            "help": "The saved tokenizer's `model_max_length`, where it cuts a review called with truncation=True "
            "(pretraining itself reads whole reviews)."
        },
    )


@dataclass
class WordVectorArguments:
    """Skip-gram with negative sampling (word2vec) over the pretraining reviews (`trainers.word_vectors`)."""

    vocab_size: int = field(default=30000, metadata={"help": "Words in the vocabulary (the classifier's)."})
    embedding_dim: int = field(default=128, metadata={"help": "Size of each word vector."})
    window: int = field(default=5, metadata={"help": "Words on each side of a word that it predicts (skip-gram)."})
    negative: int = field(default=5, metadata={"help": "Negative samples per predicted word."})
    word2vec_epochs: int = field(default=5, metadata={"help": "Passes over the corpus."})
    subsampling: float = field(
        default=1e-3, metadata={"help": "Threshold above which frequent words are randomly skipped (word2vec's)."}
    )
    workers: int | None = field(
        default=None, metadata={"help": "Training threads (default: the cores this process may use)."}
    )
    vector_std: float | None = field(
        default=None,
        metadata={
            "help": "Scale every vector by one factor so that the matrix's standard deviation is this (directions "
            "and cosine neighbours unchanged). 1.0 is the classifier's random initialisation, which its learning "
            "rate, weight decay and adversarial step sizes were tuned for; word2vec's own is about 0.2. Default: "
            "as learned."
        },
    )

    def __post_init__(self):
        for name in ("vocab_size", "embedding_dim", "window", "negative", "word2vec_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}.")
        if self.vector_std is not None and not self.vector_std > 0:
            raise ValueError(f"vector_std must be positive, got {self.vector_std}.")


@dataclass
class DistillationArguments:
    """The teachers a student LSTM learns from (`trainers.distillation`, scripts/distill.py); the loss's weight and
    temperature are the model's (`distillation_weight`, `distillation_temperature`)."""

    teachers: list[str] = field(
        default_factory=list,
        metadata={"help": "Teacher model folders or Hub ids (any text classifier whose labels match the dataset's)."},
    )
    baseline_teachers: list[str] = field(
        default_factory=list,
        metadata={
            "help": "N-gram baselines (evaluation/baselines.py: tfidf, nbsvm) as teachers too, after --teachers: "
            "each fitted on the run's training reviews, its C chosen on validation (2-3 minutes on IMDB with the "
            "labelling)."
        },
    )
    baseline_teacher_folds: int = field(
        default=1,
        metadata={
            "help": "Label the training reviews by an n-gram teacher fitted on the other folds (k-fold, at the chosen "
            "C; k extra fits): its answers on the reviews it was fitted on are near-certain copies of their labels. "
            "1: one fit labels every review."
        },
    )
    teacher_weights: list[float] | None = field(
        default=None,
        metadata={
            "help": "One weight per teacher, summing to 1 (default: the weights, on a grid of 0.1, that give the "
            "validation reviews the highest likelihood)."
        },
    )
    teacher_backend: Literal[BACKENDS] = field(
        default="torch",
        metadata={
            "help": "What runs the teachers: PyTorch (torch-bf16: in bfloat16, faster on GPUs and on CPUs with "
            "bfloat16 instructions) or ONNX Runtime on their export."
        },
    )
    teacher_batch_size: int = field(default=64, metadata={"help": "Reviews per forward pass of a teacher."})
    transfer_unlabeled: bool = field(
        default=True,
        metadata={
            "help": "Also distil on the dataset's unlabeled split (max_unlabeled_samples of it), labelled by the "
            "teachers only."
        },
    )
    teacher_labels_dir: str | None = field(
        default=None,
        metadata={
            "help": "Where the teachers' labels are cached (default: OUTPUT_DIR-teacher-labels, beside the run's "
            "folder): a rerun with the same teachers and reviews labels nothing again."
        },
    )

    def __post_init__(self):
        if not self.teachers and not self.baseline_teachers:
            raise ValueError("Name at least one teacher: --teachers FOLDER_OR_HUB_ID [...] or --baseline_teachers.")
        if self.teacher_batch_size < 1:
            raise ValueError(f"teacher_batch_size must be at least 1, got {self.teacher_batch_size}.")
        if self.baseline_teacher_folds < 1:
            raise ValueError(f"baseline_teacher_folds must be at least 1, got {self.baseline_teacher_folds}.")


@dataclass
class EncodingArguments:
    encoding_batch_size: int = field(
        default=32,
        metadata={"help": "Reviews per forward pass of the frozen encoder when computing the cached features."},
    )


@dataclass
class SentimentTrainingArguments(TrainingArguments):
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop after this many evaluations without improvement of `metric_for_best_model`."},
    )
    base_model_learning_rate_ratio: float = field(
        default=1.0,
        metadata={
            "help": "Learning rate of the base model's parameters (e.g. a pretrained LSTM's embeddings and LSTM) "
            "relative to `learning_rate`, which the head keeps; 1 gives every parameter the same rate."
        },
    )
    per_device_unlabeled_batch_size: int = field(
        default=32,
        metadata={
            "help": "Unlabeled reviews per training step and device, for a model whose loss reads them (virtual "
            "adversarial training or entropy minimisation on the dataset's unlabeled split)."
        },
    )
    weight_averaging_decay: float | None = field(
        default=None,
        metadata={
            "help": "Keep an exponential moving average of the weights with this decay (e.g. 0.999): the averaged "
            "weights are evaluated, chosen as the best checkpoint and saved. Unset: the weights as trained."
        },
    )
    calibrate_temperature: bool = field(
        default=True,
        metadata={
            "help": "After training (classifiers only), fit one temperature on the validation split by minimising "
            "its negative log-likelihood and fold it into the layer that outputs the logits, so that every way of "
            "loading the model gives calibrated probabilities; labels do not change (see trainers/calibration.py)."
        },
    )


# The names encoder configs give the dropout on attention weights (BERT, ALBERT, MiniLM; ModernBERT, DistilBERT).
ATTENTION_DROPOUT_FIELDS = ("attention_probs_dropout_prob", "attention_dropout")


@dataclass
class EncoderArguments:
    model_name_or_path: str = field(
        default=DEFAULT_ENCODER,
        metadata={"help": "Pretrained encoder to fine-tune (AutoModelForSequenceClassification): Hub id or folder."},
    )
    attention_dropout: float | None = field(
        default=None,
        metadata={
            "help": "The dropout on the encoder's attention weights, whatever its config calls it "
            f"({', '.join(ATTENTION_DROPOUT_FIELDS)}); unset: the encoder's own. 0 lets PyTorch's fused attention "
            "train on a CPU, which falls back to a slower path for attention dropout (docs/results.md)."
        },
    )

    def __post_init__(self):
        if self.attention_dropout is not None and not 0.0 <= self.attention_dropout < 1.0:
            raise ValueError(f"attention_dropout must be in [0, 1), got {self.attention_dropout}.")


@dataclass
class PretrainedLSTMArguments:
    pretrained_model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A folder (or Hub id) written by scripts/pretrain.py: the classifier starts from its embeddings "
            "and LSTM, with a new head, and reads with its tokenizer; the architecture (vocab_size, embedding_dim, "
            "hidden_size, num_layers, bidirectional, cell_type) is the folder's. Unset: learned from scratch."
        },
    )
    pretrained_layers: Literal["embeddings_and_lstm", "embeddings"] = field(
        default="embeddings_and_lstm",
        metadata={
            "help": "What the classifier takes from the pretrained folder: its embeddings and LSTM, or its "
            "embeddings only (then only vocab_size and embedding_dim are the folder's, and an LSTM of the recipe's "
            "size starts from random weights)."
        },
    )


@dataclass
class BaseModelArguments:
    base_model_hub_id: str | None = field(
        default=None,
        metadata={
            "help": "Hub id of the pretrained encoder that the model card names as base model, when the encoder "
            "was read from a local copy of it."
        },
    )


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """`DatasetSource`'s fields as options of a script that parses with argparse (evaluation, comparison)."""
    group = parser.add_argument_group("data (as in training)")
    for item in dataclasses.fields(DatasetSource):
        group.add_argument(f"--{item.name}", default=item.default, help=item.metadata["help"])


def dataset_source(arguments: argparse.Namespace) -> DatasetSource:
    """The `DatasetSource` of options added by `add_dataset_arguments`; a `ValueError` if they conflict."""
    return DatasetSource(**{item.name: getattr(arguments, item.name) for item in dataclasses.fields(DatasetSource)})


def dataset_command_line(source: DatasetSource) -> list[str]:
    """The options that give a training script the same data as `source`."""
    return [
        option
        for item in dataclasses.fields(DatasetSource)
        if getattr(source, item.name) is not None
        for option in (f"--{item.name}", str(getattr(source, item.name)))
    ]


def _documented_arguments(docstring: str) -> dict[str, str]:
    """Maps each argument of a transformers-style `Args:` docstring to its description, on one line."""
    pattern = re.compile(r"^\s{8}(\w+) \(`[^`]*`.*?\):\n((?:\s{12}.*\n?)+)", re.MULTILINE)
    return {name: " ".join(text.split()) for name, text in pattern.findall(docstring or "")}


def _argument_type(annotation):
    """The type `HfArgumentParser` should parse: `float | int` (accepted by strict configs) is read as a float,
    `list[T] | tuple[T, ...]` (a config's immutable default) as `list[T]`."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        if set(members) == {float, int}:
            return float
        lists = [member for member in members if typing.get_origin(member) is list]
        if len(members) == 2 and lists and any(typing.get_origin(member) is tuple for member in members):
            return lists[0]
    return annotation


def config_arguments(config_class: type[PreTrainedConfig], exclude: tuple[str, ...] = ()) -> type:
    """A dataclass of the hyperparameters `config_class` declares itself (not those of `PreTrainedConfig`)."""
    documented = _documented_arguments(config_class.__doc__)
    own_fields = [
        f for f in dataclasses.fields(config_class) if f.name in config_class.__annotations__ and f.name not in exclude
    ]
    return dataclasses.make_dataclass(
        f"{config_class.__name__}Arguments",
        [(f.name, _argument_type(f.type), _argument_field(f, documented.get(f.name, ""))) for f in own_fields],
    )


def _argument_field(config_field: dataclasses.Field, help_text: str) -> dataclasses.Field:
    """The argument's field: a list default goes through `default_factory`, the only way `HfArgumentParser` reads
    the default of a list argument."""
    if typing.get_origin(_argument_type(config_field.type)) is list:
        default = config_field.default
        return field(default_factory=lambda: list(default), metadata={"help": help_text})
    return field(default=config_field.default, metadata={"help": help_text})


# The LSTM's hyperparameters as arguments; `pad_token_id` comes from the tokenizer, `embeddings_only` marks a word-vector
# folder (scripts/pretrain_word_vectors.py).
LSTMArguments = config_arguments(LSTMSentimentConfig, exclude=("pad_token_id", "embeddings_only"))
# The verbalizer's: those set from the encoder's tokenizer, or (the truncation) by DataArguments, are not arguments.
VerbalizerArguments = config_arguments(
    VerbalizerConfig,
    exclude=(
        "encoder_config", "max_length", "truncation", "head_tokens", "template_token_ids", "label_word_ids",
        "leading_special_tokens", "trailing_special_tokens",
    ),
)  # fmt: skip


def read_recipe_file(path: Path, extended_by: tuple[Path, ...] = ()) -> dict:
    """The arguments a recipe file sets, over those of the recipe it extends (`BASE_RECIPE_KEY`, a path relative to
    the file), itself read the same way. The key is not an argument, so it is not returned."""
    if not path.is_file():
        named_by = f", the base recipe of {extended_by[-1]}," if extended_by else ""
        raise ValueError(f"recipe {path}{named_by} does not exist")
    if path.resolve() in {extending.resolve() for extending in extended_by}:
        chain = " -> ".join(str(extending) for extending in (*extended_by, path))
        raise ValueError(f"recipe {path} extends itself: {chain}")
    entries = yaml.safe_load(path.read_text()) or {}
    if not isinstance(entries, dict):
        raise ValueError(f"recipe {path} must be a mapping of argument names to values")
    base = entries.pop(BASE_RECIPE_KEY, None)
    if base is None:
        return entries
    return {**read_recipe_file(path.parent / base, (*extended_by, path)), **entries}


def parse_recipe(
    dataclass_types: tuple[type, ...], args: list[str] | None = None, approaches: tuple[str, ...] = ()
) -> tuple:
    """Parses `[recipe.yaml ...] [--key value ...]`: recipes set defaults (a later one overrides an earlier one, e.g.
    a model recipe then a preset), the command line overrides them all.

    Data files given on the command line replace the dataset a recipe names (its Hub id too), and a dataset given
    there replaces a recipe's data files; a truncation given there replaces the recipe's head_tokens.

    Returns one instance of each dataclass, then the run's own recipe: every argument a recipe file names or that
    differs from its default, and those of `ALWAYS_RECORDED`, as given (before `TrainingArguments` post-processing),
    but none of `NEVER_RECORDED`, so that `parse_recipe` takes it back and repeats the run. Unknown keys, in a recipe
    or on the command line, are errors. With `approaches` (those the calling script trains), a recipe's `approach`
    entry (which a run's recorded recipe has) must be one of them, and is not an argument.
    """
    args = sys.argv[1:] if args is None else list(args)
    parser = HfArgumentParser(dataclass_types)
    # Every argument at its default, as the command line parses it (a string default goes through its type).
    defaults = vars(parser.parse_args([]))
    recipe = {}
    while args and args[0].endswith((".yaml", ".yml")):
        recipe_path = Path(args.pop(0))
        try:
            entries = read_recipe_file(recipe_path)
        except ValueError as error:
            parser.error(str(error))
        named = entries.pop("approach", approaches[0]) if approaches else None
        if named not in (approaches or (None,)):
            parser.error(f"recipe {recipe_path} is for approach {named}; this script trains: {', '.join(approaches)}")
        unknown = sorted(set(entries) - set(defaults))
        if unknown:
            parser.error(f"recipe {recipe_path} has unknown keys: {', '.join(unknown)}")
        recipe.update(entries)
    given_options = {arg.split("=")[0][2:] for arg in args if arg.startswith("--")}
    for named_here, replaced in REPLACING_FIELDS:
        if given_options & set(named_here):
            recipe = {key: value for key, value in recipe.items() if key not in replaced}
    parser.set_defaults(**recipe)
    try:
        instances = parser.parse_args_into_dataclasses(args=args)
    except ValueError as error:  # arguments that contradict each other, found by a dataclass
        parser.error(str(error))
    given = vars(parser.parse_args(args))
    run_recipe = {
        dest: value
        for dest, value in given.items()
        if (dest in recipe or value != defaults[dest] or dest in ALWAYS_RECORDED) and dest not in NEVER_RECORDED
    }
    # As the dataclass settled them (the dataset a run read when none was named, for one), so the recipe says it.
    for instance in instances:
        run_recipe.update({name: getattr(instance, name) for name in ALWAYS_RECORDED if hasattr(instance, name)})
    return (*instances, run_recipe)
