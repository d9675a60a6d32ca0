"""Loading, validating and splitting a binary sentiment dataset laid out like `stanfordnlp/imdb`."""

import re

from datasets import ClassLabel, Dataset, DatasetDict, load_dataset
from datasets.exceptions import DatasetBuildError

from .sources import not_found

DEFAULT_DATASET = "stanfordnlp/imdb"
# The split of unlabeled reviews that IMDB ships (and language-model pretraining reads).
UNLABELED_SPLIT = "unsupervised"
# Share of train carved out as the validation split: 22,500 train / 2,500 validation reviews on IMDB.
DEFAULT_VALIDATION_FRACTION = 0.1
LABEL_NAMES = ["NEGATIVE", "POSITIVE"]


class DatasetValidationError(ValueError):
    """The dataset cannot be used for binary sentiment classification; the message says why."""


def validate_split(split: Dataset, name: str) -> None:
    """Checks that a split is non-empty, has a string `text` column and a `label` column of 0s and 1s."""
    if len(split) == 0:
        raise DatasetValidationError(f"The '{name}' split is empty.")
    missing = [column for column in ("text", "label") if column not in split.column_names]
    if missing:
        raise DatasetValidationError(
            f"The '{name}' split has no {' or '.join(repr(c) for c in missing)} column "
            f"(its columns: {split.column_names})."
        )
    if split.features["text"].dtype not in ("string", "large_string"):
        raise DatasetValidationError(
            f"The 'text' column of the '{name}' split holds {split.features['text'].dtype}, not strings."
        )
    found = set(split.unique("label"))
    if not found <= {0, 1}:
        raise DatasetValidationError(
            f"The 'label' column of the '{name}' split must hold 0 (negative) and 1 (positive) only; "
            f"found {sorted(found, key=str)}."
        )


def _sample(split: Dataset, size: int | None, seed: int, name: str) -> Dataset:
    """A seeded random subset; the rows of IMDB are sorted by label, so a plain head would be one class."""
    if size is None:
        return split
    if not 0 < size <= len(split):
        raise ValueError(f"Asked for {size} reviews from the '{name}' split, which has {len(split)}.")
    return split.shuffle(seed=seed).select(range(size))


def load_sentiment_splits(
    dataset_name: str = DEFAULT_DATASET,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    seed: int = 42,
    max_train_samples: int | None = None,
    max_test_samples: int | None = None,
) -> DatasetDict:
    """Loads `dataset_name` (a Hub id or a local folder) and returns its `train`, `validation` and `test` splits.

    The validation split is carved from train, stratified by label and seeded, so every run with the same seed sees
    the same split. `max_train_samples` subsamples train before the carving; `max_test_samples` subsamples test.
    Other columns are dropped and `label` becomes a `ClassLabel` named NEGATIVE/POSITIVE.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}.")
    try:
        raw = load_dataset(dataset_name)
    except (OSError, DatasetBuildError) as error:  # no such path or Hub id, no data files, a corrupt data file
        raise not_found("dataset", dataset_name, error) from error
    except ValueError as error:
        # `datasets` cannot build a split from files with no rows, and says so in its own words.
        empty = re.search(r'Instruction "(\w+)" corresponds to no data', str(error))
        if empty:
            raise DatasetValidationError(f"The '{empty.group(1)}' split of '{dataset_name}' is empty.") from error
        raise
    for required in ("train", "test"):
        if required not in raw:
            raise DatasetValidationError(
                f"Dataset '{dataset_name}' has no '{required}' split (its splits: {list(raw)})."
            )
    splits = {}
    for name in ("train", "test"):
        validate_split(raw[name], name)
        split = raw[name].select_columns(["text", "label"])
        splits[name] = split.cast_column("label", ClassLabel(names=LABEL_NAMES))

    train = _sample(splits["train"], max_train_samples, seed, "train")
    if len(set(train["label"])) < 2:
        raise DatasetValidationError("The 'train' split holds one class only; both labels are needed to train.")
    carved = train.train_test_split(test_size=validation_fraction, stratify_by_column="label", seed=seed)
    return DatasetDict(
        train=carved["train"],
        validation=carved["test"],
        test=_sample(splits["test"], max_test_samples, seed, "test"),
    )
