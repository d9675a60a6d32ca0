"""Loading, validating and splitting a text-classification dataset: a Hub id, a local folder, or local files.

Whatever its layout (column names, split names, CSV, JSON Lines or Parquet files), `load_sentiment_splits` returns
`train`, `validation` and `test` splits with two columns, `text` and `label`, the label a `ClassLabel` whose names
are the dataset's own: its `ClassLabel` names, or the sorted distinct values of a label column of strings or
numbers. Every model trained on them takes those names (`label_config`), so `pipeline` answers in the dataset's
words.
"""

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value, load_dataset
from datasets.exceptions import DatasetBuildError

from inference.sources import not_found

logger = logging.getLogger(__name__)

DEFAULT_DATASET = "stanfordnlp/imdb"
# The split of unlabeled reviews that IMDB ships (and language-model pretraining reads).
UNLABELED_SPLIT = "unsupervised"
# Share of train carved out as the validation split when the dataset has none: 22,500 / 2,500 reviews on IMDB.
DEFAULT_VALIDATION_FRACTION = 0.1
# The split a dataset's own validation data goes by, used unless `validation_split_name` names another.
VALIDATION_SPLIT = "validation"
# The `datasets` builder that reads each kind of local data file.
FILE_BUILDERS = {".csv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
# What a `ClassLabel` column holds for a row without a label (GLUE's hidden test labels, for one).
MISSING_CLASS = -1
ROLE_VERBS = {"train": "train on", "validation": "choose checkpoints on", "test": "test on"}


# The two ways of naming the data; one given on the command line replaces the other's entries in a recipe.
DATASET_FIELDS = ("dataset_name", "dataset_config_name", "dataset_hub_id")
DATA_FILE_FIELDS = ("train_file", "validation_file", "test_file")


class DatasetValidationError(ValueError):
    """The dataset cannot be used for text classification as asked; the message says why."""


@dataclass
class DatasetSource:
    """Where the labelled data comes from and how it is laid out: the data arguments every script shares."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": f"Hub id or local folder of the dataset (default: {DEFAULT_DATASET}, unless data files are "
            "given: then the files are the dataset, and a dataset_name is an error)."
        },
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "The dataset's configuration (subset), for datasets that have several."}
    )
    dataset_hub_id: str | None = field(
        default=None,
        metadata={
            "help": "Hub id of the dataset that the model card names, when `dataset_name` is a local copy of it."
        },
    )
    train_file: str | None = field(
        default=None,
        metadata={"help": "A local CSV, JSON Lines or Parquet file of training rows, instead of a dataset."},
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "A local file of validation rows (else validation is carved from train)."}
    )
    test_file: str | None = field(default=None, metadata={"help": "A local file of test rows."})
    text_column_name: str = field(default="text", metadata={"help": "The column holding each row's text."})
    label_column_name: str = field(
        default="label",
        metadata={"help": "The column holding each row's class: a ClassLabel, or strings or numbers (sorted)."},
    )
    train_split_name: str = field(default="train", metadata={"help": "The dataset's split to train on."})
    validation_split_name: str | None = field(
        default=None,
        metadata={
            "help": f"The dataset's split to choose checkpoints on. Default: its '{VALIDATION_SPLIT}' split if it "
            "has one, else a stratified, seeded share (validation_fraction) of the training split."
        },
    )
    test_split_name: str = field(default="test", metadata={"help": "The dataset's split to report test figures on."})

    def __post_init__(self):
        if self.data_files() and self.dataset_name is not None:
            raise ValueError(
                f"Give a dataset_name ({self.dataset_name}) or data files ({', '.join(self.data_files().values())}), "
                "not both."
            )
        if self.data_files() and self.train_file is None:
            raise ValueError("Data files need a train_file.")
        if self.dataset_name is None and not self.data_files():
            self.dataset_name = DEFAULT_DATASET

    def data_files(self) -> dict[str, str]:
        """The local files given, by the split they become."""
        given = {"train": self.train_file, VALIDATION_SPLIT: self.validation_file, "test": self.test_file}
        return {split: path for split, path in given.items() if path is not None}

    def describe(self) -> str:
        """The dataset as messages name it: its name and configuration, or its files."""
        if self.dataset_name is None:
            return " and ".join(self.data_files().values())
        return self.dataset_name + (f" ({self.dataset_config_name})" if self.dataset_config_name else "")


def load_raw(source: DatasetSource) -> DatasetDict:
    """The dataset as `datasets` loads it, its splits under their own names (local files under the split they are
    given for), with one-line errors for a missing dataset or file, a corrupt file, or an empty split."""
    files = source.data_files()
    try:
        if files:
            return load_dataset(file_builder(files), data_files=files)
        return load_dataset(source.dataset_name, source.dataset_config_name)
    except (OSError, DatasetBuildError) as error:  # no such path or Hub id, no data files, a corrupt data file
        missing = next((path for path in files.values() if not Path(path).is_file()), None)
        raise not_found("dataset", missing or source.describe(), error) from error
    except ValueError as error:
        # `datasets` cannot build a split from files with no rows, and says so in its own words.
        empty = re.search(r'Instruction "(\w+)" corresponds to no data', str(error))
        if empty:
            raise DatasetValidationError(f"The '{empty.group(1)}' split of '{source.describe()}' is empty.") from error
        if "BuilderConfig" in str(error) or "Config name is missing" in str(error):
            raise DatasetValidationError(f"Dataset '{source.describe()}': {str(error).splitlines()[0]}") from error
        raise


def file_builder(files: dict[str, str]) -> str:
    """The one `datasets` builder that reads all the given files (CSV, JSON Lines or Parquet, by suffix)."""
    builders = set()
    for path in files.values():
        suffix = Path(path).suffix.lower()
        if suffix not in FILE_BUILDERS:
            raise DatasetValidationError(
                f"Cannot tell the format of '{path}': data files must end in {', '.join(FILE_BUILDERS)}."
            )
        builders.add(FILE_BUILDERS[suffix])
    if len(builders) > 1:
        raise DatasetValidationError(f"The data files must share one format; got {', '.join(files.values())}.")
    return builders.pop()


def check_columns(split: Dataset, name: str, source: DatasetSource) -> None:
    """Checks that a split is non-empty and has the text column, of strings, and the label column."""
    if len(split) == 0:
        raise DatasetValidationError(f"The '{name}' split is empty.")
    wanted = (source.text_column_name, source.label_column_name)
    missing = [column for column in wanted if column not in split.column_names]
    if missing:
        raise DatasetValidationError(
            f"The '{name}' split has no {' or '.join(repr(c) for c in missing)} column (its columns: "
            f"{split.column_names}); name the columns with --text_column_name and --label_column_name."
        )
    dtype = getattr(split.features[source.text_column_name], "dtype", None)
    if dtype not in ("string", "large_string"):
        raise DatasetValidationError(
            f"The '{source.text_column_name}' column of the '{name}' split holds {dtype}, not strings."
        )


def is_missing(label, feature) -> bool:
    """Whether a row has no label: None or NaN (an empty cell), or `MISSING_CLASS` in a `ClassLabel` column (in a
    column of plain numbers, -1 is a class, as in -1/0/1 sentiment)."""
    if isinstance(feature, ClassLabel):
        return label is None or label == MISSING_CLASS
    return label is None or (isinstance(label, float) and math.isnan(label))


def read_class_names(splits: dict[str, Dataset], label_column: str) -> list[str]:
    """The classes of the label column: its `ClassLabel` names, else the sorted distinct values of the training
    split (strings as they are, numbers as written)."""
    feature = splits["train"].features[label_column]
    if isinstance(feature, ClassLabel):
        return list(feature.names)
    values = {label for label in splits["train"].unique(label_column) if not is_missing(label, feature)}
    kinds = {type(value) for value in values}
    if not kinds <= {str} and not kinds <= {int, float}:
        raise DatasetValidationError(
            f"The '{label_column}' column mixes strings and numbers: {sorted(map(str, values))}."
        )
    return [label_name(value) for value in sorted(values)]


def to_class_ids(split: Dataset, name: str, source: DatasetSource, names: list[str]) -> Dataset:
    """The split as `text` and `label` columns, the label a `ClassLabel` of `names`; a row without a label, or with
    one the training split does not have, is an error naming the split."""
    label_column = source.label_column_name
    feature = split.features[label_column]
    labels = split[label_column]
    missing = sum(is_missing(label, feature) for label in labels)
    if missing:
        raise DatasetValidationError(
            f"The '{name}' split has {missing:,} of {len(split):,} rows without a label (empty or {MISSING_CLASS}) "
            f"in its '{label_column}' column; every row of a split used for training or scoring needs one."
        )
    if isinstance(feature, ClassLabel) and list(feature.names) != names:
        raise DatasetValidationError(
            f"The '{name}' split's classes {feature.names} differ from the training split's {names}."
        )
    if not isinstance(feature, ClassLabel):
        unknown = sorted({label_name(label) for label in labels} - set(names))
        if unknown:
            raise DatasetValidationError(
                f"The '{name}' split has labels the training split does not: {unknown} (training classes: {names})."
            )
    # Column operations and a `map` of a named function, not a new dataset: the result's fingerprint is the same
    # on every run, which the verbalizer's feature cache relies on; the split keeps its dataset's name, so a run can
    # tell (and its card say) whether validation was carved from train.
    split = split.select_columns([source.text_column_name, label_column])
    split = split.rename_columns(
        {old: new for old, new in ((source.text_column_name, "text"), (label_column, "label")) if old != new}
    )
    if isinstance(feature, ClassLabel):
        return split
    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    return split.map(
        to_class_id, batched=True, features=features, fn_kwargs={"names": names}, desc=f"Labels of {name}"
    )


def label_name(label) -> str:
    """A label value as its class name: strings as they are, whole numbers without a decimal point (a CSV column of
    numbers with empty cells reads as floats)."""
    return str(int(label)) if isinstance(label, float) and label.is_integer() else str(label)


def to_class_id(batch: dict, names: list[str]) -> dict:
    return {"label": [names.index(label_name(label)) for label in batch["label"]]}


def split_names(raw: DatasetDict, source: DatasetSource) -> tuple[str, str | None, str]:
    """The names of the splits to train, choose checkpoints and test on (None: validation is carved from train)."""
    validation = source.validation_split_name or (VALIDATION_SPLIT if VALIDATION_SPLIT in raw else None)
    for role, name in (
        ("train", source.train_split_name),
        ("validation", validation),
        ("test", source.test_split_name),
    ):
        if name is not None and name not in raw:
            where = "the data files" if source.dataset_name is None else f"Dataset '{source.describe()}'"
            option = f"--{role}_file" if source.dataset_name is None else f"--{role}_split_name"
            raise DatasetValidationError(
                f"{where} has no '{name}' split to {ROLE_VERBS[role]} (its splits: {list(raw)}); name one with {option}."
            )
    return source.train_split_name, validation, source.test_split_name


def _sample(split: Dataset, size: int | None, seed: int, name: str) -> Dataset:
    """A seeded random subset; the rows of IMDB are sorted by label, so a plain head would be one class."""
    if size is None:
        return split
    if not 0 < size <= len(split):
        raise ValueError(f"Asked for {size} reviews from the '{name}' split, which has {len(split)}.")
    return split.shuffle(seed=seed).select(range(size))


def load_sentiment_splits(
    source: DatasetSource | str = DEFAULT_DATASET,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    seed: int = 42,
    max_train_samples: int | None = None,
    max_test_samples: int | None = None,
) -> DatasetDict:
    """The `train`, `validation` and `test` splits of `source` (a `DatasetSource`, or a dataset's Hub id or folder),
    as `text` and `label` columns, the label a `ClassLabel` of the dataset's classes (`read_class_names`).

    Validation is the dataset's own validation split (see `split_names`), else carved from train, stratified by
    label and seeded, so every run with the same seed sees the same split. `max_train_samples` subsamples train
    (before any carving); `max_test_samples` subsamples test. Two classes at least must appear in train.
    """
    if isinstance(source, str):
        source = DatasetSource(dataset_name=source)
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}.")
    raw = load_raw(source)
    train_name, validation_name, test_name = split_names(raw, source)
    named = {"train": train_name, VALIDATION_SPLIT: validation_name, "test": test_name}
    used = {role: raw[name] for role, name in named.items() if name is not None}
    for role, split in used.items():
        check_columns(split, named[role], source)
    names = read_class_names(used, source.label_column_name)
    if len(names) < 2:
        raise DatasetValidationError(
            f"The '{train_name}' split holds one class only ({names}); two classes at least are needed to train."
        )
    splits = {role: to_class_ids(split, named[role], source, names) for role, split in used.items()}
    train = _sample(splits["train"], max_train_samples, seed, "train")
    if len(set(train["label"])) < 2:
        raise DatasetValidationError(
            "The 'train' split holds one class only; two classes at least are needed to train."
        )
    if validation_name is None:
        carved = train.train_test_split(test_size=validation_fraction, stratify_by_column="label", seed=seed)
        train, validation = carved["train"], carved["test"]
    else:
        logger.info(f"Validation: the dataset's '{validation_name}' split ({len(splits[VALIDATION_SPLIT]):,} rows).")
        validation = splits[VALIDATION_SPLIT]
    return DatasetDict(
        train=train, validation=validation, test=_sample(splits["test"], max_test_samples, seed, "test")
    )


def class_names(splits: DatasetDict) -> list[str]:
    """The classes of splits loaded by `load_sentiment_splits`, in label order."""
    return list(splits["train"].features["label"].names)


def label_config(names: list[str]) -> dict:
    """A classifier config's label settings for these classes, so `pipeline` answers with their names."""
    return {
        "num_labels": len(names),
        "id2label": dict(enumerate(names)),
        "label2id": {name: index for index, name in enumerate(names)},
    }


def load_unlabeled_reviews(source: DatasetSource, seed: int, max_samples: int | None = None) -> Dataset:
    """The dataset's split of unlabeled reviews (`UNLABELED_SPLIT`), shuffled by `seed`, as one `text` column; the
    first `max_samples` of them if given. A dataset without such a split is a `DatasetValidationError`."""
    if source.dataset_name is None:
        raise DatasetValidationError(
            f"Unlabeled reviews come from a dataset's '{UNLABELED_SPLIT}' split; give a dataset_name, not data files."
        )
    try:
        unlabeled = load_dataset(source.dataset_name, source.dataset_config_name, split=UNLABELED_SPLIT)
    except ValueError as error:
        raise DatasetValidationError(
            f"Dataset '{source.describe()}' has no '{UNLABELED_SPLIT}' split of unlabeled reviews."
        ) from error
    unlabeled = unlabeled.select_columns([source.text_column_name]).shuffle(seed=seed)
    if source.text_column_name != "text":
        unlabeled = unlabeled.rename_column(source.text_column_name, "text")
    if max_samples is not None:
        if not 0 < max_samples <= len(unlabeled):
            raise ValueError(
                f"Asked for {max_samples} reviews of the '{UNLABELED_SPLIT}' split, which has {len(unlabeled)}."
            )
        unlabeled = unlabeled.select(range(max_samples))
    return unlabeled
