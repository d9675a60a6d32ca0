import math

import numpy as np
import pytest
from datasets import DatasetDict

from evaluation.baselines import (
    BASELINES,
    NBLogisticRegression,
    log_count_ratio,
    ngram_presence_vectorizer,
    train_baseline,
)
from evaluation.comparison import measure_baseline
from trainers.data import load_sentiment_splits

# Three positive and two negative reviews; "good" occurs twice in the first, which must count once.
TEXTS = ["good good film", "good plot", "good film", "bad film", "bad bad plot"]
LABELS = [1, 1, 1, 0, 0]


def test_log_count_ratios_equal_hand_computed_values():
    vectorizer = ngram_presence_vectorizer()
    features = vectorizer.fit_transform(TEXTS)
    # 4 words, 6 bigrams ("good good", "good film", "good plot", "bad film", "bad bad", "bad plot"), 2 trigrams.
    assert features.shape == (5, 12) and features.max() == 1
    model = NBLogisticRegression(C=1.0).fit(features, LABELS)
    ratios = dict(zip(vectorizer.get_feature_names_out(), model.ratios_[0]))
    # The positive reviews hold 5 + 3 + 3 = 11 n-grams, the negative ones 3 + 5 = 8; with alpha = 1 on each of the
    # 12 features, |p|1 = 23 and |q|1 = 20. "good": p = 1 + 3, q = 1 + 0; "bad": p = 1 + 0, q = 1 + 2;
    # "film": p = 1 + 2, q = 1 + 1; "good film": p = 1 + 2, q = 1 + 0.
    assert ratios["good"] == pytest.approx(math.log((4 / 23) / (1 / 20)))
    assert ratios["bad"] == pytest.approx(math.log((1 / 23) / (3 / 20)))
    assert ratios["film"] == pytest.approx(math.log((3 / 23) / (2 / 20)))
    assert ratios["good film"] == pytest.approx(math.log((3 / 23) / (1 / 20)))
    # Predictions use the weights folded into the ratios: the same scores as logistic regression over x ⊙ r.
    scaled = features.multiply(model.ratios_[0]).toarray()
    np.testing.assert_allclose(model.decision_function(features), scaled @ model.coef_[0] + model.intercept_[0])
    assert model.predict(features).tolist() == LABELS
    assert (model.coef_.size + model.intercept_.size, model.ratios_.size) == (13, 12)


def test_words_and_punctuation_are_the_lstm_tokenizers():
    vocabulary = ngram_presence_vectorizer().fit(["GREAT movie!!<br /><br />I didn't like it"]).vocabulary_
    assert {"great", "!", "! !", "movie ! !", "didn't", "didn't like it"} <= set(vocabulary)
    assert not {"br", "<", "didn", "t"} & set(vocabulary)


def test_three_classes_get_one_model_per_class_against_the_rest():
    features = ngram_presence_vectorizer().fit_transform(TEXTS + ["plot", "film"])
    labels = np.array(LABELS + [2, 2])
    model = NBLogisticRegression().fit(features, labels)
    assert model.ratios_.shape == model.coef_.shape == (3, features.shape[1])
    for row, label in enumerate((0, 1, 2)):
        np.testing.assert_allclose(model.ratios_[row], log_count_ratio(features, labels == label))
    probabilities = model.predict_proba(features)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="Two classes at least"):
        NBLogisticRegression().fit(features, np.zeros(7))


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


def test_nbsvm_beats_chance_on_real_reviews(imdb_splits):
    train, validation, test = imdb_splits["train"], imdb_splits["validation"], imdb_splits["test"]
    pipeline, results = train_baseline("nbsvm", train["text"], train["label"], validation["text"], validation["label"])
    by_c = results["validation_accuracy_by_c"]
    assert results["eval_accuracy"] == max(by_c.values()) == by_c[str(results["chosen_c"])]
    # A weight and a log-count ratio per n-gram, and the intercept.
    assert results["num_trainable_parameters"] == results["vocabulary_size"] + 1
    assert results["num_parameters"] == 2 * results["vocabulary_size"] + 1
    accuracy = (pipeline.predict(list(test["text"])) == np.array(test["label"])).mean()
    assert accuracy > 0.75  # 540 real training reviews; chance is 0.5


def test_nbsvm_on_three_classes_of_real_tweets(tweet_source):
    splits = load_sentiment_splits(tweet_source, seed=0, max_train_samples=2000, max_test_samples=300)
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    pipeline, results = train_baseline("nbsvm", train["text"], train["label"], validation["text"], validation["label"])
    probabilities = pipeline.predict_proba(list(test["text"]))
    assert probabilities.shape == (300, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    labels = np.array(test["label"])
    majority = np.bincount(labels).max() / len(labels)  # always answering the commonest class
    assert (probabilities.argmax(axis=1) == labels).mean() > majority + 0.05


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
