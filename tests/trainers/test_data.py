from collections import Counter

import pytest
from datasets import ClassLabel, Dataset, Features, Value

from trainers.approaches import APPROACHES
from trainers.arguments import parse_recipe
from trainers.data import DatasetSource, DatasetValidationError, class_names, label_config, load_sentiment_splits
from trainers.run import load_splits

from ..conftest import IMDB_CLASSES, SST2_CLASSES


def test_validation_split_is_stratified_seeded_and_disjoint(imdb_dataset):
    splits = load_sentiment_splits(imdb_dataset, validation_fraction=0.1, seed=3, max_train_samples=1000)
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (900, 100, 25000)
    # Stratified: validation keeps the class balance of the 1,000 reviews sampled, to within one review.
    positives = sum(splits["train"]["label"]) + sum(splits["validation"]["label"])
    assert abs(sum(splits["validation"]["label"]) - positives / 10) <= 1
    assert not set(splits["train"]["text"]) & set(splits["validation"]["text"])
    assert splits["train"].features["label"].names == IMDB_CLASSES

    again = load_sentiment_splits(imdb_dataset, validation_fraction=0.1, seed=3, max_train_samples=1000)
    assert list(again["validation"]["text"]) == list(splits["validation"]["text"])
    other_seed = load_sentiment_splits(imdb_dataset, validation_fraction=0.1, seed=4, max_train_samples=1000)
    assert list(other_seed["validation"]["text"]) != list(splits["validation"]["text"])


def test_full_train_split_gives_22500_and_2500(imdb_dataset):
    splits = load_sentiment_splits(imdb_dataset)
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (22500, 2500, 25000)
    assert Counter(splits["validation"]["label"]) == {0: 1250, 1: 1250}


def write_dataset(folder, train: dict, test: dict | None = None):
    """Writes a local dataset folder of CSV files, a layout `load_dataset(folder)` reads like the Hub's."""
    folder.mkdir()
    for name, columns in {"train": train, "test": test}.items():
        if columns is not None:
            Dataset.from_dict(columns).to_csv(str(folder / f"{name}.csv"), index=False)
    return str(folder)


GOOD = {"text": ["good film", "bad film", "great", "awful"], "label": [1, 0, 1, 0]}
BAD = {
    "no text": {"review": GOOD["text"], "label": GOOD["label"]},
    "no label": {"text": GOOD["text"], "stars": [5, 1, 4, 2]},
    "numbers as text": {"text": [1, 2, 3, 4], "label": GOOD["label"]},
    "one class": {"text": GOOD["text"], "label": [1, 1, 1, 1]},
}


@pytest.mark.parametrize(
    "train, test, message",
    [
        (BAD["no text"], BAD["no text"], "'train' split has no 'text' column .*--text_column_name"),
        (BAD["no label"], BAD["no label"], "'train' split has no 'label' column"),
        (GOOD, {"text": ["fine"], "label": [7]}, r"'test' split has labels the training split does not: \['7'\]"),
        (BAD["numbers as text"], BAD["numbers as text"], "'text' column of the 'train' split holds int64"),
        (GOOD, {"text": [], "label": []}, "'test' split of '.*' is empty"),
        (BAD["one class"], GOOD, "one class only"),
        (GOOD, None, "has no 'test' split"),
    ],
)
def test_bad_datasets_give_errors_that_name_the_problem(tmp_path, train, test, message):
    folder = write_dataset(tmp_path / "bad", train, test)
    with pytest.raises(DatasetValidationError, match=message):
        load_sentiment_splits(folder, validation_fraction=0.5)


def test_asking_for_more_reviews_than_exist_is_an_error(tmp_path):
    folder = write_dataset(tmp_path / "small", GOOD, GOOD)
    with pytest.raises(ValueError, match="Asked for 10 reviews from the 'train' split, which has 4"):
        load_sentiment_splits(folder, max_train_samples=10)
    with pytest.raises(ValueError, match="validation_fraction"):
        load_sentiment_splits(folder, validation_fraction=1.5)


def test_sst2_is_read_by_its_column_name_with_its_own_validation_split(sst2_dataset):
    source = DatasetSource(dataset_name=sst2_dataset, text_column_name="sentence")
    splits = load_sentiment_splits(source, seed=0, max_train_samples=500)
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (500, 872, 1821)
    assert splits["validation"].split == "validation" and splits["train"].features["label"].names == SST2_CLASSES
    with pytest.raises(DatasetValidationError, match="no 'text' column .*'sentence'"):
        load_sentiment_splits(sst2_dataset)
    # Named splits: the validation split as test, and validation carved from train.
    swapped = DatasetSource(dataset_name=sst2_dataset, text_column_name="sentence", test_split_name="validation",
                            validation_split_name="nonexistent")  # fmt: skip
    with pytest.raises(DatasetValidationError, match="no 'nonexistent' split to choose checkpoints on"):
        load_sentiment_splits(swapped)


def test_three_classes_keep_their_names_and_stratified_carving(tweet_source):
    splits = load_sentiment_splits(tweet_source, seed=0, max_train_samples=900, max_test_samples=300)
    assert splits["train"].features["label"].names == ["negative", "neutral", "positive"]
    assert set(splits["test"]["label"]) == {0, 1, 2} and len(splits["validation"]) == 2000
    assert class_names(splits) == ["negative", "neutral", "positive"]
    assert label_config(class_names(splits))["id2label"] == {0: "negative", 1: "neutral", 2: "positive"}


def test_csv_files_with_their_own_columns_and_string_labels(tmp_path, imdb_splits):
    rows = imdb_splits["train"].select(range(60))
    words = ["awful", "great"]
    for name, split in {"train": rows.select(range(40)), "test": rows.select(range(40, 60))}.items():
        Dataset.from_dict(
            {"review": split["text"], "verdict": [words[label] for label in split["label"]], "stars": [3] * len(split)}
        ).to_csv(str(tmp_path / f"{name}.csv"), index=False)
    source = DatasetSource(train_file=str(tmp_path / "train.csv"), test_file=str(tmp_path / "test.csv"),
                           text_column_name="review", label_column_name="verdict")  # fmt: skip
    splits = load_sentiment_splits(source, validation_fraction=0.25, seed=0)
    assert splits["train"].features["label"].names == ["awful", "great"]
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (30, 10, 20)
    assert list(splits["test"]["text"]) == list(rows["text"][40:]) and list(splits["test"]["label"]) == list(
        rows["label"][40:]
    )


def test_rows_without_a_label_are_refused_naming_the_split_and_count(tmp_path):
    Dataset.from_dict(
        {"text": GOOD["text"] * 2, "label": ["good", None, "bad", None, "good", "bad", "", "bad"]}
    ).to_csv(str(tmp_path / "train.csv"), index=False)
    with pytest.raises(DatasetValidationError, match="'train' split has 3 of 8 rows without a label"):
        load_sentiment_splits(
            DatasetSource(train_file=str(tmp_path / "train.csv"), test_file=str(tmp_path / "train.csv"))
        )
    # GLUE hides its test labels as -1 in a ClassLabel column (Parquet keeps the ClassLabel).
    folder = tmp_path / "hidden"
    features = Features({"text": Value("string"), "label": ClassLabel(names=["bad", "good"])})
    for name, labels in {"train": GOOD["label"], "test": [0, 1, -1, 1]}.items():
        Dataset.from_dict({"text": GOOD["text"], "label": labels}, features=features).to_parquet(
            str(folder / f"{name}.parquet")
        )
    with pytest.raises(DatasetValidationError, match="'test' split has 1 of 4 rows without a label"):
        load_sentiment_splits(str(folder))


def test_numbers_as_labels_name_their_classes_and_minus_one_is_one_of_them(tmp_path):
    # Outside a ClassLabel column, -1 is a class (negative in -1/0/1 sentiment), not a missing label.
    Dataset.from_dict({"text": GOOD["text"] * 3, "label": [-1, 0, 1, 1, 0, -1, 1, 0, -1, -1, 0, 1]}).to_csv(
        str(tmp_path / "train.csv"), index=False
    )
    source = DatasetSource(train_file=str(tmp_path / "train.csv"), test_file=str(tmp_path / "train.csv"))
    splits = load_sentiment_splits(source, validation_fraction=0.25, seed=0)
    assert class_names(splits) == ["-1", "0", "1"]
    assert list(splits["test"]["label"]) == [0, 1, 2, 2, 1, 0, 2, 1, 0, 0, 1, 2]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"dataset_name": "x", "train_file": "t.csv"}, "not both"),
        ({"test_file": "t.csv"}, "need a train_file"),
    ],
)
def test_conflicting_sources_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        DatasetSource(**arguments)


def test_files_of_unknown_or_mixed_formats_are_refused(tmp_path):
    with pytest.raises(DatasetValidationError, match="must end in .csv"):
        load_sentiment_splits(DatasetSource(train_file="reviews.xlsx", test_file="reviews.xlsx"))
    with pytest.raises(DatasetValidationError, match="share one format"):
        load_sentiment_splits(DatasetSource(train_file="a.csv", test_file="b.parquet"))


def test_runs_with_one_split_seed_share_their_split_and_not_their_training_seed(imdb_dataset):
    """split_seed carves the validation split whatever the run's --seed (several students of one teacher)."""

    def run_splits(*options):
        data_args, *_, training_args, _ = parse_recipe(
            APPROACHES["lstm"].argument_classes,
            ["--dataset_name", imdb_dataset, "--max_train_samples", "400", "--output_dir", "unused", *options],
        )
        return load_splits(data_args, training_args)

    teachers = run_splits("--seed", "42")
    student = run_splits("--seed", "43", "--split_seed", "42")
    other = run_splits("--seed", "43")
    assert student["validation"]["text"] == teachers["validation"]["text"]
    assert set(other["validation"]["text"]) != set(teachers["validation"]["text"])
