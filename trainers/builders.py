"""How each approach builds its tokenizer and its model, shared by the training scripts and the search.

A builder takes hyperparameter overrides (a search trial's, or none) and returns a fresh model, so `Trainer` can call
it as `model_init` once per trial. The registry (trainers/approaches.py) names each approach's `*_models` function,
which builds its tokenizer and model builder from a run's parsed arguments.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from datasets import DatasetDict
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TrainingArguments,
)

from inference.sources import check_model_folder
from models import LSTMForSequenceClassification, LSTMModel, LSTMSentimentConfig, TruncatingTokenizer

from .arguments import (
    ATTENTION_DROPOUT_FIELDS,
    DataArguments,
    EncoderArguments,
    LSTMArguments,
    PretrainedLSTMArguments,
    ReviewDataArguments,
    SentimentTrainingArguments,
)
from .data import class_names, label_config
from .tokenizer import train_word_tokenizer, truncating_tokenizer
from .training import build_tokenizer_once

ModelBuilder = Callable[[dict], PreTrainedModel]
# What a pretrained folder fixes; a classifier that starts from it takes its other hyperparameters from its recipe.
LSTM_ARCHITECTURE = ("vocab_size", "embedding_dim", "hidden_size", "num_layers", "bidirectional", "cell_type")
# What it fixes when the classifier takes its embeddings only.
EMBEDDING_ARCHITECTURE = ("vocab_size", "embedding_dim")
FIXED_BY_PRETRAINED_LAYERS = {"embeddings_and_lstm": LSTM_ARCHITECTURE, "embeddings": EMBEDDING_ARCHITECTURE}


def word_tokenizer(
    texts: Sequence[str],
    data_args: ReviewDataArguments,
    vocab_size: int,
    args: TrainingArguments,
    truncation: str = "head",
    head_tokens: int | None = None,
    sep_token: str | None = None,
) -> PreTrainedTokenizerBase:
    """The word-level tokenizer learned on `texts` (`train_word_tokenizer`: the run's `min_frequency`, and
    `sep_token` if given), cutting a review longer than the run's `max_length` by `truncation`; built once across
    processes. A classifier's is learned on its training split and cuts by its recipe's truncation; a pretraining
    run's, learned on the pretraining reviews, cuts at the head until a classifier run gives it its own cut."""

    def build() -> PreTrainedTokenizerBase:
        learned = train_word_tokenizer(texts, vocab_size, data_args.min_frequency, data_args.max_length, sep_token)
        return truncating_tokenizer(learned, data_args.max_length, truncation, head_tokens)

    return build_tokenizer_once(args, build)


def lstm_builder(
    model_args,
    tokenizer: PreTrainedTokenizerBase,
    class_names: list[str] | None = None,
    model_class: type[PreTrainedModel] = LSTMForSequenceClassification,
) -> ModelBuilder:
    """LSTM models (classifiers of `class_names` unless `model_class` says otherwise) with the recipe's
    hyperparameters, overridden by the given ones; the embedding matrix matches the vocabulary actually learned,
    which may be smaller than the `vocab_size` asked for."""
    labels = label_config(class_names) if class_names else {}

    def build(overrides: dict) -> PreTrainedModel:
        hyperparameters = {**dataclasses.asdict(model_args), **overrides, **labels, "vocab_size": len(tokenizer)}
        return model_class(LSTMSentimentConfig(**hyperparameters, pad_token_id=tokenizer.pad_token_id))

    return build


def pretrained_lstm_builder(
    pretrained_model_name_or_path: str,
    model_args,
    recipe: dict,
    class_names: list[str],
    layers: str = "embeddings_and_lstm",
) -> ModelBuilder:
    """Classifiers that start from a folder of `scripts/pretrain.py`: its embeddings and LSTM (or, with `layers`
    "embeddings", its embeddings only), a new head, and the recipe's hyperparameters except what the folder fixes
    (a recipe that sets it otherwise is refused rather than ignored)."""
    pretrained = AutoConfig.from_pretrained(pretrained_model_name_or_path)
    if layers == "embeddings_and_lstm" and getattr(pretrained, "embeddings_only", False):
        raise ValueError(
            f"{pretrained_model_name_or_path} holds word vectors and an untrained LSTM: start from its embeddings "
            "only (--pretrained_layers embeddings)."
        )
    fixed = FIXED_BY_PRETRAINED_LAYERS[layers]
    conflicts = [
        f"{name}={recipe[name]!r} (the folder has {getattr(pretrained, name)!r})"
        for name in fixed
        if name in recipe and recipe[name] != getattr(pretrained, name)
    ]
    if conflicts:
        raise ValueError(
            f"{pretrained_model_name_or_path} fixes {', '.join(fixed)}; the recipe asks {', '.join(conflicts)}."
        )
    hyperparameters = {k: v for k, v in dataclasses.asdict(model_args).items() if k not in fixed}
    if layers == "embeddings_and_lstm":
        return encoder_builder(pretrained_model_name_or_path, class_names, hyperparameters)

    def build(overrides: dict) -> PreTrainedModel:
        folder_values = {name: getattr(pretrained, name) for name in (*EMBEDDING_ARCHITECTURE, "pad_token_id")}
        settings = {**hyperparameters, **overrides, **folder_values, **label_config(class_names)}
        model = LSTMForSequenceClassification(LSTMSentimentConfig(**settings))
        embeddings = LSTMModel.from_pretrained(pretrained_model_name_or_path).get_input_embeddings()
        model.lstm.get_input_embeddings().weight.data.copy_(embeddings.weight.data)
        return model

    return build


def encoder_tokenizer(model_name_or_path: str, data_args: DataArguments) -> PreTrainedTokenizerBase:
    """The encoder's own tokenizer, cutting reviews by the run's truncation; saved with the model, so that every
    door (`pipeline` included) cuts where training cut."""
    encoder = AutoTokenizer.from_pretrained(model_name_or_path)
    return truncating_tokenizer(encoder, data_args.max_length, data_args.truncation, data_args.head_tokens)


def pretrained_lstm_tokenizer(pretrained_model_name_or_path: str, data_args: DataArguments) -> PreTrainedTokenizerBase:
    """The vocabulary of a pretraining folder, cutting reviews by the classifier run's truncation."""
    pretrained = TruncatingTokenizer.from_pretrained(pretrained_model_name_or_path)
    return truncating_tokenizer(pretrained, data_args.max_length, data_args.truncation, data_args.head_tokens)


def encoder_builder(
    model_name_or_path: str, class_names: list[str], hyperparameters: dict | None = None
) -> ModelBuilder:
    """The pretrained encoder with a new classification head for `class_names`; `hyperparameters`, then the
    overrides, go to its config."""

    def build(overrides: dict) -> PreTrainedModel:
        return AutoModelForSequenceClassification.from_pretrained(
            model_name_or_path, **label_config(class_names), **{**(hyperparameters or {}), **overrides}
        )

    return build


class ModelFactory(NamedTuple):
    """What an approach builds from a run's arguments: the tokenizer its models read with (built once), a builder of
    fresh models, and the hyperparameters the builder's overrides may name (what a search can tune)."""

    tokenizer: PreTrainedTokenizerBase
    build: ModelBuilder
    hyperparameters: frozenset[str]


def lstm_models(arguments: Mapping[type, Any], recipe: dict, splits: DatasetDict) -> ModelFactory:
    """The LSTM classifier learned from scratch, on a vocabulary learned from the training split; every hyperparameter
    can be tuned but `vocab_size`, which the tokenizer fixes before any model is built."""
    data_args, model_args = arguments[DataArguments], arguments[LSTMArguments]
    tokenizer = word_tokenizer(
        splits["train"]["text"],
        data_args,
        model_args.vocab_size,
        arguments[SentimentTrainingArguments],
        data_args.truncation,
        data_args.head_tokens,
    )
    hyperparameters = frozenset(dataclasses.asdict(model_args)) - {"vocab_size"}
    return ModelFactory(tokenizer, lstm_builder(model_args, tokenizer, class_names(splits)), hyperparameters)


def pretrained_lstm_models(arguments: Mapping[type, Any], recipe: dict, splits: DatasetDict) -> ModelFactory:
    """The LSTM classifier started from a folder of scripts/pretrain.py or scripts/pretrain_word_vectors.py
    (`pretrained_model_name_or_path`), reading with its tokenizer; what the folder does not fix can be tuned."""
    pretrained = arguments[PretrainedLSTMArguments]
    folder, layers = pretrained.pretrained_model_name_or_path, pretrained.pretrained_layers
    if not folder:
        raise ValueError("lstm_pretrained starts from a pretraining folder: give --pretrained_model_name_or_path.")
    model_args = arguments[LSTMArguments]
    build = pretrained_lstm_builder(folder, model_args, recipe, class_names(splits), layers)
    hyperparameters = frozenset(dataclasses.asdict(model_args)) - set(FIXED_BY_PRETRAINED_LAYERS[layers])
    return ModelFactory(pretrained_lstm_tokenizer(folder, arguments[DataArguments]), build, hyperparameters)


def finetuned_models(arguments: Mapping[type, Any], recipe: dict, splits: DatasetDict) -> ModelFactory:
    """The pretrained encoder `model_name_or_path` with a new classification head, reading with its own tokenizer;
    every entry of its config can be tuned."""
    encoder_args = arguments[EncoderArguments]
    encoder = encoder_args.model_name_or_path
    check_model_folder(encoder)
    tokenizer = encoder_tokenizer(encoder, arguments[DataArguments])
    config = AutoConfig.from_pretrained(encoder).to_dict()
    settings = attention_dropout_settings(config, encoder, encoder_args.attention_dropout)
    return ModelFactory(tokenizer, encoder_builder(encoder, class_names(splits), settings), frozenset(config))


def attention_dropout_settings(config: dict, encoder: str, attention_dropout: float | None) -> dict:
    """The config entry that sets `attention_dropout` for this encoder (none when unset)."""
    if attention_dropout is None:
        return {}
    names = [name for name in ATTENTION_DROPOUT_FIELDS if name in config]
    if not names:
        raise ValueError(
            f"The config of {encoder} has no attention dropout to set (none of {', '.join(ATTENTION_DROPOUT_FIELDS)})."
        )
    return {names[0]: attention_dropout}


def student_lstm_models(arguments: Mapping[type, Any], recipe: dict, splits: DatasetDict) -> ModelFactory:
    """A distillation student: the LSTM recipe it names, from a pretraining folder when it gives one
    (`pretrained_lstm_models`), else from scratch (`lstm_models`)."""
    if arguments[PretrainedLSTMArguments].pretrained_model_name_or_path:
        return pretrained_lstm_models(arguments, recipe, splits)
    return lstm_models(arguments, recipe, splits)
