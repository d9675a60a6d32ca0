import csv
import json
import re
from collections import Counter

import numpy as np
import pytest
from matplotlib.image import imread

from evaluation.report import (
    MINIMAL_PAIRS_FILE,
    accuracy_by_length,
    calibration,
    classification_metrics,
    confident_errors,
    evaluation_report,
    hard_case_summary,
    hard_cases_markdown,
    load_minimal_pairs,
    load_tricky_reviews,
    marked_edit,
    minimal_pair_results,
    score_hard_cases,
    tricky_review_results,
    write_report,
)
from inference.labels import match_labels, to_dataset_classes

# Eight reviews, hand-checked: predictions right except rows 2 and 6.
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
POSITIVE = np.array([0.1, 0.35, 0.65, 0.25, 0.95, 0.75, 0.3, 0.85])
PROBABILITIES = np.column_stack([1 - POSITIVE, POSITIVE])
CLASSES = ["NEGATIVE", "POSITIVE"]
# Four short reviews (5 words) and four of 150 words.
TEXTS = ["one two three four five"] * 4 + [" ".join(["word"] * 150)] * 4


def test_metrics_equal_hand_computed_values():
    metrics = classification_metrics(LABELS, PROBABILITIES, CLASSES)
    assert metrics["accuracy"] == 0.75
    assert metrics["confusion_matrix"] == [[3, 1], [1, 3]]
    for name in ("NEGATIVE", "POSITIVE"):
        assert metrics["per_class"][name] == {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4}
    assert metrics["f1"] == metrics["macro_f1"] == 0.75
    # 14 of the 16 (positive, negative) pairs have the positive review scored higher.
    assert metrics["roc_auc"] == pytest.approx(14 / 16)


def test_roc_auc_is_none_for_one_class():
    assert classification_metrics(LABELS[:4], PROBABILITIES[:4], CLASSES)["roc_auc"] is None


def test_expected_calibration_error_equals_hand_computed_value():
    result = calibration(LABELS, PROBABILITIES, bins=5)
    # (0.6, 0.8]: 5 reviews, confidence 0.70, accuracy 0.60; (0.8, 1.0]: 3 reviews, confidence 0.90, accuracy 1.
    filled = [entry for entry in result["bins"] if entry["count"]]
    assert [(entry["count"], entry["accuracy"]) for entry in filled] == [(5, 0.6), (3, 1.0)]
    assert [entry["mean_confidence"] for entry in filled] == pytest.approx([0.7, 0.9])
    assert result["expected_calibration_error"] == pytest.approx((5 * 0.1 + 3 * 0.1) / 8)
    with pytest.raises(ValueError, match="at least 1"):
        calibration(LABELS, PROBABILITIES, bins=0)


def test_errors_by_length_and_most_confident_errors():
    buckets = accuracy_by_length(LABELS, PROBABILITIES, TEXTS)
    assert [(bucket["words"], bucket["count"], bucket["errors"]) for bucket in buckets[:3]] == [
        ("0-99", 4, 1), ("100-199", 4, 1), ("200-399", 0, 0)
    ]  # fmt: skip
    assert buckets[-1]["words"] == "800+" and buckets[-1]["accuracy"] is None
    errors = confident_errors(LABELS, PROBABILITIES, TEXTS, CLASSES)
    assert [(error["index"], error["label"], error["predicted"]) for error in errors] == [
        (6, "POSITIVE", "NEGATIVE"), (2, "NEGATIVE", "POSITIVE")
    ]  # fmt: skip
    assert errors[0]["confidence"] == pytest.approx(0.7) and errors[0]["words"] == 150


@pytest.mark.parametrize(
    ("model_labels", "expected"),
    [
        (["NEGATIVE", "POSITIVE"], [0, 1]),
        (["POSITIVE", "NEGATIVE"], [1, 0]),
        (["neg", "pos"], [0, 1]),
        (["LABEL_0", "LABEL_1"], [0, 1]),
    ],
)
def test_model_labels_are_matched_by_name(model_labels, expected):
    assert match_labels(model_labels, CLASSES) == expected


def test_labels_of_one_dataset_are_matched_to_another_by_prefix_either_way():
    assert match_labels(["neg", "pos"], ["negative", "positive"]) == [0, 1]  # an IMDB model on SST-2
    assert match_labels(["negative", "positive"], ["neg", "pos"]) == [0, 1]  # an SST-2 model on IMDB
    with pytest.raises(ValueError, match="'neutral'"):  # a three-class model on a two-class dataset
        match_labels(["negative", "neutral", "positive"], ["neg", "pos"])


def test_unmatched_labels_are_refused_unless_mapped():
    with pytest.raises(ValueError, match="--label_map 1 star=DATASET_LABEL"):
        match_labels(["1 star", "5 stars"], CLASSES)
    assert match_labels(["1 star", "5 stars"], CLASSES, explicit={"1 star": "NEGATIVE", "5 stars": "POSITIVE"}) == [
        0,
        1,
    ]
    with pytest.raises(ValueError, match="maps to \\['POSITIVE'\\]"):
        match_labels(["negative", "neutral"], CLASSES, explicit={"neutral": "NEGATIVE"})
    with pytest.raises(ValueError, match="dataset labels \\['GOOD'\\]"):
        match_labels(["a", "b"], CLASSES, explicit={"a": "GOOD"})


def test_three_model_labels_add_up_into_the_dataset_classes():
    model_probabilities = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])  # negative, neutral, positive
    mapping = match_labels(["negative", "neutral", "positive"], CLASSES, explicit={"neutral": "NEGATIVE"})
    np.testing.assert_allclose(to_dataset_classes(model_probabilities, mapping, 2), [[0.7, 0.3], [0.7, 0.3]])


def test_the_tricky_reviews_suite_covers_the_hard_cases():
    reviews = load_tricky_reviews()
    categories = {review["category"] for review in reviews}
    assert {"negation", "mixed", "sarcasm", "contrast"} <= categories
    assert {review["label"] for review in reviews} == {"NEGATIVE", "POSITIVE"}
    assert {"text": "I didn't hate it, but I wouldn't watch it again.", "label": "NEGATIVE",
            "category": "contrast"} in reviews  # fmt: skip
    probabilities = np.tile([0.2, 0.8], (len(reviews), 1))  # a model that always says POSITIVE
    results = tricky_review_results(reviews, probabilities)
    positives = sum(review["label"] == "POSITIVE" for review in reviews)
    assert results["accuracy"] == pytest.approx(positives / len(reviews))
    assert results["by_category"]["sarcasm"] == 0.0


def test_a_malformed_tricky_review_is_refused(tmp_path):
    path = tmp_path / "tricky.jsonl"
    path.write_text(json.dumps({"text": "Fine.", "label": "GOOD", "category": "short"}) + "\n")
    with pytest.raises(ValueError, match="Line 1"):
        load_tricky_reviews(path)


def test_report_files_and_plots_are_written(tmp_path):
    report = evaluation_report(LABELS, PROBABILITIES, TEXTS, CLASSES, calibration_bins=5)
    history = [
        {"loss": 0.7, "step": 10, "epoch": 0.5}, {"eval_loss": 0.6, "eval_accuracy": 0.7, "step": 20, "epoch": 1.0},
        {"loss": 0.5, "step": 30, "epoch": 1.5}, {"eval_loss": 0.5, "eval_accuracy": 0.8, "step": 40, "epoch": 2.0},
    ]  # fmt: skip
    plots = write_report(report, tmp_path, title="hand-made", log_history=history)
    assert set(plots) == {"confusion_matrix", "reliability_diagram", "confidence_histogram", "training_curves"}
    for path in plots.values():
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert saved["accuracy"] == 0.75 and saved["calibration"]["expected_calibration_error"] == pytest.approx(0.1)
    markdown = (tmp_path / "evaluation.md").read_text()
    assert "| 8 | 75.00% | 75.00% | 75.00% | 0.8750 | 0.1000 |" in markdown
    assert "![reliability diagram](reliability_diagram.png)" in markdown
    # Without validation entries in the history there are no training curves.
    assert "training_curves" not in write_report(report, tmp_path / "again", title="x", log_history=history[:1])


def test_three_classes_get_macro_figures_a_per_class_table_and_a_three_by_three_matrix(tmp_path):
    classes = ["negative", "neutral", "positive"]
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array([
        [0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.3, 0.6], [0.1, 0.2, 0.7], [0.2, 0.1, 0.7],
    ])  # fmt: skip
    report = evaluation_report(labels, probabilities, ["a short text"] * 6, classes, calibration_bins=5)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 1, 1], [0, 0, 2]]
    # Per class F1: negative 2/3, neutral 1/2, positive 4/5; F1 is their mean for three classes.
    assert report["f1"] == report["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 4 / 5) / 3)
    assert report["roc_auc"] is None and list(report["per_class"]) == classes
    plots = write_report(report, tmp_path, title="three classes")
    markdown = (tmp_path / "evaluation.md").read_text()
    assert "| reviews | accuracy | F1 (macro) |" in markdown and "| | negative | neutral | positive |" in markdown
    assert "| neutral | 0 | 1 | 1 |" in markdown
    assert imread(plots["confusion_matrix"]).shape[1] > imread(plots["reliability_diagram"]).shape[1]


def words(text: str) -> list[str]:
    """Lower-cased words (with inner apostrophes: "isn't") and punctuation marks, each a token."""
    return re.findall(r"\w+(?:'\w+)?|[^\w\s]", text.lower())


def word_edit_distance(first: list[str], second: list[str]) -> int:
    """Levenshtein distance over tokens: the fewest insertions, deletions and substitutions of one token."""
    previous = list(range(len(second) + 1))
    for row, token in enumerate(first, 1):
        current = [row]
        for column, other in enumerate(second, 1):
            current.append(min(previous[column] + 1, current[column - 1] + 1, previous[column - 1] + (token != other)))
        previous = current
    return previous[-1]


def test_word_edit_distance_counts_token_edits():
    assert word_edit_distance(words("It was not boring."), words("It was boring.")) == 1
    assert word_edit_distance(words("The plot is thin, but it works."), words("The plot is thin, and it fails.")) == 2
    assert word_edit_distance(words("a b c"), words("c b a")) == 2


def test_the_projects_minimal_pairs_are_balanced_small_edits_without_duplicates():
    raw = [json.loads(line) for line in MINIMAL_PAIRS_FILE.read_text().splitlines()]
    assert all(set(row) == {"original", "original_label", "edited", "edited_label", "phenomenon"} for row in raw)
    pairs = load_minimal_pairs()
    assert pairs == raw and len(pairs) >= 120
    phenomena = Counter(pair["phenomenon"] for pair in pairs)
    assert set(phenomena) == {"negation", "contrast", "intensity", "verdict"} and min(phenomena.values()) >= 30
    # Balanced on each side, and within each phenomenon.
    for side in ("original_label", "edited_label"):
        assert Counter(pair[side] for pair in pairs) == {"POSITIVE": len(pairs) // 2, "NEGATIVE": len(pairs) // 2}
        for name in phenomena:
            labels = Counter(pair[side] for pair in pairs if pair["phenomenon"] == name)
            assert labels["POSITIVE"] == labels["NEGATIVE"], (name, side)
    # The label changes, except for a few intensity edits that keep it (and say so with their labels).
    kept = [pair for pair in pairs if pair["original_label"] == pair["edited_label"]]
    assert 0 < len(kept) <= len(pairs) // 8 and {pair["phenomenon"] for pair in kept} == {"intensity"}
    texts = [pair[side] for pair in pairs for side in ("original", "edited")]
    assert len(set(texts)) == len(texts), [text for text, count in Counter(texts).items() if count > 1]
    for pair in pairs:
        distance = word_edit_distance(words(pair["original"]), words(pair["edited"]))
        assert 1 <= distance <= 4, pair
        for side in ("original", "edited"):  # passages of 2 to 5 sentences
            assert 2 <= len(re.findall(r"[.!?]+(?:\s|$)", pair[side])) <= 5, pair[side]


# Four pairs, hand-checked: probabilities over (NEGATIVE, POSITIVE) for each original and each edit.
HAND_PAIRS = [
    {"original": "It was not boring. Fine.", "original_label": "POSITIVE", "edited": "It was boring. Fine.",
     "edited_label": "NEGATIVE", "phenomenon": "negation"},  # both right
    {"original": "Thin plot, but it works. Yes.", "original_label": "POSITIVE",
     "edited": "Thin plot, and it fails. Yes.", "edited_label": "NEGATIVE", "phenomenon": "contrast"},  # no flip
    {"original": "Good film. Yes.", "original_label": "POSITIVE", "edited": "Great film. Yes.",
     "edited_label": "POSITIVE", "phenomenon": "intensity"},  # flips although it should not: edit wrong
    {"original": "Dull. Two out of ten.", "original_label": "NEGATIVE", "edited": "Dull. Nine out of ten.",
     "edited_label": "POSITIVE", "phenomenon": "intensity"},  # flips the wrong way round: both wrong
]  # fmt: skip
HAND_ORIGINALS = np.array([[0.2, 0.8], [0.3, 0.7], [0.1, 0.9], [0.4, 0.6]])
HAND_EDITS = np.array([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45], [0.7, 0.3]])


def test_pair_metrics_equal_hand_computed_values():
    results = minimal_pair_results(HAND_PAIRS, HAND_ORIGINALS, HAND_EDITS)
    assert results["count"] == 4 and results["should_flip"] == 3
    assert results["consistency"] == 0.25  # only the first pair has both sides right
    assert results["original_accuracy"] == 0.75  # the last original is wrong
    assert results["edited_accuracy"] == 0.25
    assert results["flip_rate"] == 0.75  # all but pair 2 change label
    # Of pairs 1, 2 and 4, whose labels differ, 1 and 4 flip: pair 4 wrong on both sides all the same.
    assert results["flips_when_it_should"] == pytest.approx(2 / 3)
    assert results["flips_when_it_should_not"] == 1.0  # pair 3 keeps its label and still flips
    intensity = results["by_phenomenon"]["intensity"]
    assert intensity == {"count": 2, "consistency": 0.0, "original_accuracy": 0.5, "edited_accuracy": 0.0,
                         "flip_rate": 1.0, "should_flip": 1, "flips_when_it_should": 1.0,
                         "flips_when_it_should_not": 1.0}  # fmt: skip
    assert results["by_phenomenon"]["negation"]["flips_when_it_should_not"] is None  # no pair keeps its label
    assert list(results["by_phenomenon"]) == ["contrast", "intensity", "negation"]
    first = results["pairs"][0]
    assert first["consistent"] and first["edited_predicted"] == "NEGATIVE" and first["edited_confidence"] == 0.9
    assert [row["consistent"] for row in results["pairs"]] == [True, False, False, False]
    with pytest.raises(ValueError, match="4 pairs, 3 and 4 predictions"):
        minimal_pair_results(HAND_PAIRS, HAND_ORIGINALS[:3], HAND_EDITS)


def test_hard_cases_are_scored_in_one_call_through_the_models_own_labels():
    tricky = [{"text": "Loved it.", "label": "POSITIVE", "category": "short"}]
    probabilities = {pair[side]: row for pair, originals, edits in zip(HAND_PAIRS, HAND_ORIGINALS, HAND_EDITS)
                     for side, row in (("original", originals), ("edited", edits))}  # fmt: skip
    probabilities["Loved it."] = np.array([0.35, 0.65])
    calls = []

    def predict(texts):  # a model whose labels come in the other order: POSITIVE first
        calls.append(list(texts))
        return np.array([probabilities[text][::-1] for text in texts])

    scored = score_hard_cases(predict, ["POSITIVE", "NEGATIVE"], tricky, HAND_PAIRS)
    assert len(calls) == 1 and len(calls[0]) == 1 + 2 * len(HAND_PAIRS)
    assert scored["tricky_reviews"]["accuracy"] == 1.0 and scored["tricky_reviews"]["count"] == 1
    assert scored["minimal_pairs"] == minimal_pair_results(HAND_PAIRS, HAND_ORIGINALS, HAND_EDITS)
    summary = hard_case_summary(scored)
    assert "pairs" not in summary["minimal_pairs"] and "reviews" not in summary["tricky_reviews"]
    assert summary["minimal_pairs"]["consistency"] == 0.25
    # A three-class model cannot be scored on two-class suites; neither can an empty one.
    assert score_hard_cases(predict, ["negative", "neutral", "positive"], tricky, HAND_PAIRS) == {
        "tricky_reviews": None, "minimal_pairs": None
    }  # fmt: skip
    assert hard_case_summary(score_hard_cases(predict, ["neg", "pos"])) == {}


def write_csv(path, rows, columns=("id", "original", "original_label", "edited", "edited_label", "phenomenon")):
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_pairs_load_from_csv_and_json_lines_with_labels_in_any_case(tmp_path):
    rows = [{**pair, "id": index} for index, pair in enumerate(HAND_PAIRS)]
    rows[0] = {**rows[0], "original_label": "positive", "edited_label": " neg "}
    rows[1] = {**rows[1], "original_label": "Pos", "edited_label": "NEGATIVE"}
    from_csv = load_minimal_pairs(write_csv(tmp_path / "pairs.csv", rows))
    assert from_csv == HAND_PAIRS  # labels named, the extra column ignored
    # A spreadsheet's CSV with a byte-order mark, without the optional phenomenon column.
    path = tmp_path / "excel.csv"
    write_csv(path, rows, columns=("original", "original_label", "edited", "edited_label"))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert {pair["phenomenon"] for pair in load_minimal_pairs(path)} == {"other"}
    lines = [json.dumps({key: value for key, value in row.items() if key != "phenomenon"}) for row in rows]
    (tmp_path / "pairs.jsonl").write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n")
    from_jsonl = load_minimal_pairs(tmp_path / "pairs.jsonl")
    assert [{**pair, "phenomenon": "other"} for pair in HAND_PAIRS] == from_jsonl


HEADER = "original,original_label,edited,edited_label\n"
ONE_PAIR = {"original": "A. B.", "original_label": "POSITIVE", "edited": "A. C.", "edited_label": "NEGATIVE"}


# Each message as it reads, `{path}` standing for the file's path.
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "{path} holds no pairs: a pairs file has the columns original, original_label, edited, "
                          "edited_label (and optionally phenomenon)."),
        ("empty.jsonl", "\n\n", "{path} holds no pairs"),
        ("header.csv", HEADER, "{path} holds no pairs"),
        ("columns.csv", "original,label,edited\nA. B.,POSITIVE,A. C.\n",
         "{path} has no column original_label, edited_label (its columns: ['original', 'label', 'edited'])"),
        ("field.jsonl", json.dumps(ONE_PAIR) + "\n\n" + json.dumps({"original": "A. B.", "edited": "A. C."}) + "\n",
         "Line 3 of {path} has no original_label, edited_label: a pairs file has the columns"),
        ("label.csv", HEADER + "A. B.,POSITIVE,A. C.,meh\n",
         "Unknown label 'meh' on line 2 of {path}: a label is one of NEGATIVE, POSITIVE (any case; neg and pos too)."),
        ("number.jsonl", json.dumps({**ONE_PAIR, "original_label": 1}) + "\n", "Unknown label 1 on line 1 of {path}"),
        ("blank.csv", HEADER + "  ,POSITIVE,A. C.,NEGATIVE\n", "The original text on line 2 of {path} is empty."),
        ("short.csv", HEADER + "A. B.,POSITIVE\n", "The edited text on line 2 of {path} is empty."),
        ("same.jsonl", json.dumps({**ONE_PAIR, "edited": "A. B. "}) + "\n",
         "The original and the edited text on line 1 of {path} are the same: a pair needs an edit."),
        ("broken.jsonl", '{"original": "A. B.",\n', "Line 1 of {path} is not valid JSON"),
        ("list.jsonl", '["A. B.", "POSITIVE"]\n', "Line 1 of {path} is not a JSON object"),
        ("pairs.tsv", "original\toriginal_label\n",
         "{path}: a pairs file is CSV (.csv) or JSON Lines (.jsonl), not '.tsv'."),
    ],
)  # fmt: skip
def test_a_bad_pairs_file_is_refused_in_one_line_naming_the_place(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError) as raised:
        load_minimal_pairs(path)
    assert message.format(path=path) in str(raised.value) and "\n" not in str(raised.value)


def test_an_edit_is_marked_word_by_word():
    assert marked_edit("The film is not tense.", "The film is tense.") == "The film is ~~not~~ tense."
    assert marked_edit("It is good.", "It is very good.") == "It is **very** good."
    assert marked_edit("Skip it.", "See it.") == "**See** it."


def test_the_report_and_the_card_show_the_pairs_beside_the_tricky_reviews(tmp_path):
    tricky = [{"text": "Loved it.", "label": "POSITIVE", "category": "short"}]
    scored = {
        "tricky_reviews": tricky_review_results(tricky, np.array([[0.35, 0.65]])),
        "minimal_pairs": minimal_pair_results(HAND_PAIRS, HAND_ORIGINALS, HAND_EDITS),
    }
    report = {**evaluation_report(LABELS, PROBABILITIES, TEXTS, CLASSES, calibration_bins=5), **scored}
    write_report(report, tmp_path, title="hand-made")
    markdown = (tmp_path / "evaluation.md").read_text()
    assert markdown.index("## Tricky reviews: 100.00% right") < markdown.index("## Minimal pairs: 25.00% both right")
    table = ["| phenomenon | pairs | both right | originals | edits | flips when it should | "
             "flips when it should not |",
             "| contrast | 1 | 0.00% | 100.00% | 0.00% | 0.00% | — |",
             "| intensity | 2 | 0.00% | 50.00% | 0.00% | 100.00% | 100.00% |",
             "| negation | 1 | 100.00% | 100.00% | 100.00% | 100.00% | — |",
             "| **all** | 4 | 25.00% | 75.00% | 25.00% | 66.67% | 100.00% |"]  # fmt: skip
    for row in table:
        assert row in markdown and len(row) < 120
    assert "(it should), and on 100.00% of the 1 whose edit keeps it (it should not)." in markdown
    # The three pairs not both right are listed, their edits marked; the one right is not.
    listed = (
        "| intensity | NEGATIVE → POSITIVE | POSITIVE → NEGATIVE | Dull. Two out of ten. | Dull. **Nine** out of ten."
    )
    assert listed in markdown
    assert markdown.count(" → ") == 2 * 3 and "It was boring. Fine. |" not in markdown
    saved = json.loads((tmp_path / "evaluation.json").read_text())["minimal_pairs"]
    assert saved["pairs"][3]["edited_predicted"] == "NEGATIVE" and saved["consistency"] == 0.25

    card = hard_cases_markdown(hard_case_summary(scored))
    assert card.startswith("**Tricky reviews** (1 hand-written reviews, each with its expected label): 100.00% right")
    assert "Both sides right on 25.00% of 4 pairs (originals 75.00%, edits 25.00%)." in card
    assert all(row in card for row in table) and "Dull." not in card
    assert hard_cases_markdown({}) == ""
