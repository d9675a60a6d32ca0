from collections import Counter

import pytest
from datasets import Dataset

from trainers.data import DatasetValidationError, load_sentiment_splits


def test_validation_split_is_stratified_seeded_and_disjoint(imdb_dataset):
    splits = load_sentiment_splits(imdb_dataset, validation_fraction=0.1, seed=3, max_train_samples=1000)
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (900, 100, 25000)
    # Stratified: validation keeps the class balance of the 1,000 reviews sampled, to within one review.
    positives = sum(splits["train"]["label"]) + sum(splits["validation"]["label"])
    assert abs(sum(splits["validation"]["label"]) - positives / 10) <= 1
    assert not set(splits["train"]["text"]) & set(splits["validation"]["text"])
    assert splits["train"].features["label"].names == ["NEGATIVE", "POSITIVE"]

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
    "three labels": {"text": GOOD["text"], "label": [0, 1, 2, 1]},
    "numbers as text": {"text": [1, 2, 3, 4], "label": GOOD["label"]},
    "one class": {"text": GOOD["text"], "label": [1, 1, 1, 1]},
}


@pytest.mark.parametrize(
    "train, test, message",
    [
        (BAD["no text"], BAD["no text"], "'train' split has no 'text' column"),
        (BAD["no label"], BAD["no label"], "'train' split has no 'label' column"),
        (BAD["three labels"], GOOD, r"must hold 0 \(negative\) and 1 \(positive\) only; found \[0, 1, 2\]"),
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
