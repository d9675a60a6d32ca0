"""How each approach builds its tokenizer and its model, shared by the training scripts and the search.

A builder takes hyperparameter overrides (a search trial's, or none) and returns a fresh model, so `Trainer` can call
it as `model_init` once per trial.
"""

import dataclasses
from collections.abc import Callable

from datasets import DatasetDict
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TrainingArguments,
)

from models import LSTMForSequenceClassification, LSTMSentimentConfig

from .arguments import DataArguments, config_arguments
from .data import LABEL_NAMES
from .tokenizer import train_word_tokenizer, truncating_tokenizer
from .training import build_tokenizer_once

ModelBuilder = Callable[[dict], PreTrainedModel]
# The LSTM's hyperparameters as arguments; `pad_token_id` comes from the tokenizer.
LSTMArguments = config_arguments(LSTMSentimentConfig, exclude=("pad_token_id",))


def lstm_tokenizer(
    splits: DatasetDict, data_args: DataArguments, vocab_size: int, args: TrainingArguments
) -> PreTrainedTokenizerBase:
    """The word-level tokenizer learned on the training split, cutting reviews by the run's truncation, built once
    across processes."""
    texts = splits["train"]["text"]

    def build() -> PreTrainedTokenizerBase:
        learned = train_word_tokenizer(texts, vocab_size, data_args.min_frequency, data_args.max_length)
        return truncating_tokenizer(learned, data_args.max_length, data_args.truncation, data_args.head_tokens)

    return build_tokenizer_once(args, build)


def lstm_builder(model_args, tokenizer: PreTrainedTokenizerBase) -> ModelBuilder:
    """LSTMs with the recipe's hyperparameters, overridden by the given ones; the embedding matrix matches the
    vocabulary actually learned, which may be smaller than the `vocab_size` asked for."""

    def build(overrides: dict) -> PreTrainedModel:
        hyperparameters = {**dataclasses.asdict(model_args), **overrides, "vocab_size": len(tokenizer)}
        return LSTMForSequenceClassification(
            LSTMSentimentConfig(**hyperparameters, pad_token_id=tokenizer.pad_token_id)
        )

    return build


def encoder_tokenizer(model_name_or_path: str, data_args: DataArguments) -> PreTrainedTokenizerBase:
    """The encoder's own tokenizer, cutting reviews by the run's truncation; saved with the model, so that every
    door (`pipeline` included) cuts where training cut."""
    encoder = AutoTokenizer.from_pretrained(model_name_or_path)
    return truncating_tokenizer(encoder, data_args.max_length, data_args.truncation, data_args.head_tokens)


def encoder_builder(model_name_or_path: str) -> ModelBuilder:
    """The pretrained encoder with a new two-label classification head; overrides go to its config."""

    def build(overrides: dict) -> PreTrainedModel:
        return AutoModelForSequenceClassification.from_pretrained(
            model_name_or_path,
            num_labels=len(LABEL_NAMES),
            id2label=dict(enumerate(LABEL_NAMES)),
            label2id={label: index for index, label in enumerate(LABEL_NAMES)},
            **overrides,
        )

    return build
