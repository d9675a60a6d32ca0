import io
import json

import numpy as np
import pytest
import torch

from inference.predictor import (
    InputError,
    format_from_suffix,
    iter_reviews,
    load_predictor,
    parse_model_specs,
    prediction_records,
    read_reviews,
    write_records,
)

from ..conftest import pipeline_scores


@pytest.fixture(scope="module")
def predictor(trained_lstm_folder):
    return load_predictor("lstm", str(trained_lstm_folder))


def test_predictor_agrees_with_the_pipeline_on_real_reviews_in_any_batch_size(predictor, lstm_pipeline, imdb_splits):
    texts = list(imdb_splits["test"]["text"][:60])
    expected = pipeline_scores(lstm_pipeline, texts)
    for batch_size in (1, 7, 64):
        probabilities = predictor.predict_probabilities(texts, batch_size=batch_size)
        # Length-sorted batching must hand each review back its own row.
        for row, scores in zip(probabilities.tolist(), expected):
            assert row == pytest.approx([scores["neg"], scores["pos"]], abs=1e-5)


def test_the_bfloat16_backend_runs_the_folder_as_pipeline_does_in_bfloat16(
    predictor, trained_lstm_folder, imdb_splits
):
    """`torch-bf16` is the folder loaded with `dtype=torch.bfloat16`: the pipeline a user loads that way gives its
    scores, and they stay near float32's (bfloat16 keeps 8 bits of mantissa)."""
    from transformers import pipeline

    texts = list(imdb_splits["test"]["text"][:60])
    in_bfloat16 = load_predictor("lstm", str(trained_lstm_folder), backend="torch-bf16")
    assert {parameter.dtype for parameter in in_bfloat16.classifier.model.parameters()} == {torch.bfloat16}
    assert in_bfloat16.describe()["backend"] == "torch-bf16" and predictor.describe()["backend"] == "torch"
    probabilities = in_bfloat16.predict_probabilities(texts, batch_size=16)
    user_pipeline = pipeline(
        "sentiment-analysis", model=str(trained_lstm_folder), trust_remote_code=True, dtype=torch.bfloat16
    )
    expected = pipeline_scores(user_pipeline, texts)
    np.testing.assert_allclose(probabilities, [[s["neg"], s["pos"]] for s in expected], atol=1e-5)
    in_float32 = predictor.predict_probabilities(texts)
    assert np.abs(probabilities - in_float32).max() < 0.05
    assert (probabilities.argmax(-1) == in_float32.argmax(-1)).mean() >= 0.95


@pytest.mark.parametrize(
    "folder_fixture", ["verbalizer_mlp_folder", "verbalizer_mlm_folder", "finetuned_modernbert_folder"]
)
def test_every_approach_runs_in_bfloat16(folder_fixture, request, imdb_splits):
    """The verbalizer (both heads, over a frozen encoder) and a fine-tuned encoder run whole in bfloat16, near their
    float32 probabilities, cut and in windows."""
    folder = str(request.getfixturevalue(folder_fixture))
    texts = list(imdb_splits["test"]["text"][:16])
    in_bfloat16 = load_predictor("model", folder, backend="torch-bf16")
    assert {parameter.dtype for parameter in in_bfloat16.classifier.model.parameters()} == {torch.bfloat16}
    in_float32 = load_predictor("model", folder)
    for chunk_overlap in (None, 16):
        probabilities = in_bfloat16.predict_probabilities(texts, chunk_overlap=chunk_overlap)
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
        assert (
            np.abs(probabilities - in_float32.predict_probabilities(texts, chunk_overlap=chunk_overlap)).max() < 0.05
        )


def test_long_reviews_are_truncated_at_the_model_max_length(predictor, lstm_pipeline, imdb_splits):
    long_review = " ".join(" ".join(imdb_splits["test"]["text"]).split()[:3000])
    assert len(predictor.tokenizer(long_review)["input_ids"]) > 3000 > predictor.max_length == 256
    probabilities = predictor.predict_probabilities([long_review])[0].tolist()
    truncated = pipeline_scores(lstm_pipeline, [long_review])[0]
    by_default = {entry["label"]: entry["score"] for entry in lstm_pipeline(long_review, top_k=None)}
    whole = {entry["label"]: entry["score"] for entry in lstm_pipeline(long_review, top_k=None, truncation=False)}
    assert probabilities == pytest.approx([truncated["neg"], truncated["pos"]], abs=1e-5)
    assert by_default == pytest.approx(truncated, abs=1e-6)  # the folder's own pipeline class truncates by default
    assert probabilities != pytest.approx([whole["neg"], whole["pos"]], abs=1e-3)  # truncation mattered


def test_chunked_prediction_averages_overlapping_windows_of_a_5000_word_review(predictor, imdb_splits):
    long_review = " ".join(" ".join(imdb_splits["test"]["text"]).split()[:5000])
    short_review = imdb_splits["test"]["text"][0]
    probabilities = predictor.predict_probabilities([short_review, long_review], chunk_overlap=32)
    assert probabilities.shape == (2, 2)  # one row, so one label, per review however many windows
    # By hand: windows of 256 tokens, each starting 256 - 32 tokens after the previous one, scored alone, averaged.
    ids = predictor.tokenizer(long_review)["input_ids"]
    windows = [ids[start : start + 256] for start in range(0, len(ids) - 32, 256 - 32)]
    assert len(windows) > 20
    with torch.inference_mode():
        by_hand = torch.stack(
            [predictor.classifier.model(input_ids=torch.tensor([window])).logits.softmax(-1)[0] for window in windows]
        ).mean(0)
    np.testing.assert_allclose(probabilities[1], by_hand.numpy(), rtol=0, atol=1e-5)
    # A review shorter than one window is unaffected by chunking.
    np.testing.assert_allclose(probabilities[0], predictor.predict_probabilities([short_review])[0], rtol=0, atol=1e-6)
    with pytest.raises(InputError, match="chunk_overlap must be at least 0 and less than the 256 tokens"):
        predictor.predict_probabilities([long_review], chunk_overlap=256)


def test_records_rank_labels_and_respect_top_k():
    probabilities = np.array([[0.2, 0.8], [0.9, 0.1]])
    one = prediction_records(probabilities, ["NEGATIVE", "POSITIVE"], 1)
    both = prediction_records(probabilities, ["NEGATIVE", "POSITIVE"], 2)
    assert one[0] == {"label": "POSITIVE", "score": pytest.approx(0.8), "scores": [one[0]["scores"][0]]}
    assert [entry["label"] for entry in both[1]["scores"]] == ["NEGATIVE", "POSITIVE"]
    with pytest.raises(InputError, match="top_k must be between 1 and the number of labels"):
        prediction_records(probabilities, ["NEGATIVE", "POSITIVE"], 3)


def test_model_specs_need_a_name_and_a_path_once_each():
    assert parse_model_specs(["lstm=out/lstm", "bert = out/bert"]) == {"lstm": "out/lstm", "bert": "out/bert"}
    refusals = [(["out/lstm"], "NAME=FOLDER"), (["=out"], "NAME=FOLDER"), (["a=x", "a=y"], "twice"), ([], "No model")]
    for bad, message in refusals:
        with pytest.raises(ValueError, match=message):
            parse_model_specs(bad)


@pytest.mark.parametrize(
    "input_format, content, column, message",
    [
        ("text", "good film\n\nbad film\n", "text", "Review 2 of reviews is empty or only whitespace"),
        ("text", "", "text", "No reviews in reviews"),
        ("csv", "id,review\n1,good\n", "text", "has no column 'text' \\(its columns: \\['id', 'review'\\]\\)"),
        ("csv", "", "text", "no header row"),
        ("jsonl", '{"text": "good"}\n{"text": "bad"\n', "text", "Line 2 of reviews is not valid JSON"),
        ("jsonl", '{"text": "good"}\n{"review": "bad"}\n', "text", "Line 2 of reviews has no field 'text'"),
        ("jsonl", '{"text": 3}\n', "text", "Field 'text' on line 1 of reviews is int, not text"),
    ],
)
def test_unreadable_inputs_are_refused_with_the_place_and_reason(input_format, content, column, message):
    with pytest.raises(InputError, match=message):
        read_reviews(io.StringIO(content), input_format, column, "reviews")


def test_reviews_are_read_one_at_a_time_and_lines_split_as_splitlines_splits():
    text = "First.\r\nSecond.\x0cThird.\u2028Fourth.\rFifth.\n"
    assert read_reviews(io.StringIO(text, newline=""), "text", "text", "r.txt") == text.splitlines()
    # Each input holds two good reviews, then a bad row, found only when it is reached.
    inputs = {"text": "A.\nB.\n\n", "csv": 'text\nA.\nB.\n""\n', "jsonl": '{"text": "A."}\n{"text": "B."}\n{"text\n'}
    for input_format, content in inputs.items():
        reviews = iter_reviews(io.StringIO(content), input_format, "text", "r")
        assert [next(reviews), next(reviews)] == ["A.", "B."], input_format
        with pytest.raises(InputError, match="Review 3 of r is empty|Line 3 of r is not valid JSON"):
            next(reviews)


def test_reading_each_format_and_writing_csv_and_jsonl():
    csv_text = 'id,review\n1,"Great, truly great."\n2,"Bad.\nVery bad."\n'
    assert read_reviews(io.StringIO(csv_text), "csv", "review", "r.csv") == ["Great, truly great.", "Bad.\nVery bad."]
    jsonl_text = '{"review": "Great."}\n\n{"review": "Bad."}\n'
    assert read_reviews(io.StringIO(jsonl_text), "jsonl", "review", "r.jsonl") == ["Great.", "Bad."]
    assert format_from_suffix("a/reviews.TXT", ("text", "csv", "jsonl"), "text") == "text"
    assert format_from_suffix("-", ("text", "csv", "jsonl"), "text") == "text"
    with pytest.raises(InputError, match="Cannot tell the format"):
        format_from_suffix("reviews.parquet", ("text", "csv", "jsonl"), "text")

    records = prediction_records(np.array([[0.25, 0.75]]), ["NEGATIVE", "POSITIVE"], 2)
    as_csv, as_jsonl = io.StringIO(), io.StringIO()
    write_records(records, as_csv, "csv")
    write_records(records, as_jsonl, "jsonl")
    assert as_csv.getvalue().splitlines() == ["label,score,label_2,score_2", "POSITIVE,0.75,NEGATIVE,0.25"]
    assert json.loads(as_jsonl.getvalue()) == records[0]
