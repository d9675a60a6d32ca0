import numpy as np
import pytest
from datasets import DatasetDict

from trainers.baseline import BASELINES, train_baseline
from trainers.comparison import measure_baseline


@pytest.mark.parametrize("name", list(BASELINES))
def test_c_is_chosen_on_validation_never_on_test(imdb_splits, name):
    """Validation is the test reviews with every label flipped, so a C's validation accuracy is 1 minus its test
    accuracy: the C chosen on validation is the one that does worst on test, and a choice made on test would have
    reported a higher accuracy."""
    test = imdb_splits["test"]
    flipped = test.map(lambda row: {"label": 1 - row["label"]})
    splits = DatasetDict(train=imdb_splits["train"], validation=flipped, test=test)
    row = measure_baseline(name, splits, test["text"][:20])
    by_c = {float(c): accuracy for c, accuracy in row["validation_accuracy_by_c"].items()}
    assert list(by_c) == list(BASELINES[name].c_values)
    assert row["chosen_c"] == min(c for c, accuracy in by_c.items() if accuracy == max(by_c.values()))
    assert row["accuracy"] == pytest.approx(1 - by_c[row["chosen_c"]])
    assert row["accuracy"] < max(1 - accuracy for accuracy in by_c.values())


def test_tfidf_baseline_chooses_c_on_validation_and_beats_chance(imdb_splits):
    train, validation, test = imdb_splits["train"], imdb_splits["validation"], imdb_splits["test"]
    pipeline, results = train_baseline(
        "tfidf", train["text"], train["label"], validation["text"], validation["label"], c_values=(0.01, 16.0)
    )
    by_c = results["validation_accuracy_by_c"]
    assert results["eval_accuracy"] == max(by_c.values()) == by_c[str(results["chosen_c"])]
    assert results["num_parameters"] == results["num_trainable_parameters"] == results["vocabulary_size"] + 1
    accuracy = (pipeline.predict(list(test["text"])) == np.array(test["label"])).mean()
    assert accuracy > 0.7  # 540 real training reviews; chance is 0.5
