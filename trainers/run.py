"""What every training script does with its data before training: seeded splits, and the unlabeled reviews a
semi-supervised model reads."""

import sys

from datasets import Dataset, DatasetDict
from transformers import PreTrainedTokenizerBase, TrainingArguments, set_seed

from .arguments import DataArguments
from .data import load_sentiment_splits, load_unlabeled_reviews
from .training import tokenize_splits


def load_splits(data_args: DataArguments, args: TrainingArguments) -> DatasetDict:
    """Seeds everything and loads the run's train/validation/test splits (the split follows the seed, or
    `split_seed`)."""
    set_seed(args.seed)
    return load_sentiment_splits(
        data_args,
        validation_fraction=data_args.validation_fraction,
        seed=data_args.seed_of_split(args.seed),
        max_train_samples=data_args.max_train_samples,
        max_test_samples=data_args.max_test_samples,
    )


def unlabeled_reviews_for(
    config, data_args: DataArguments, tokenizer: PreTrainedTokenizerBase, args: TrainingArguments
) -> Dataset | None:
    """The dataset's unlabeled reviews, tokenized, if the model's loss reads them (`learns_from_unlabeled`), else
    None; exits with a one-line message if the dataset has none."""
    if not getattr(config, "learns_from_unlabeled", False):
        return None
    try:
        unlabeled = load_unlabeled_reviews(data_args, args.seed, data_args.max_unlabeled_samples)
    except ValueError as error:
        sys.exit(f"error: {error}")
    return tokenize_splits(DatasetDict(unlabeled=unlabeled), tokenizer, args)["unlabeled"]
