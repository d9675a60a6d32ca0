"""Reviews longer than a model reads: how much each way of reading them is worth, and making the best one the
folder's own.

A model folder cuts a review longer than its `model_max_length` tokens by the rule its tokenizer saved (`truncation`:
its head, its tail, or its first `head_tokens` tokens and its end; see models/tokenization_truncation.py), so every
door (pipeline, predict.py, the server, the demo, ONNX) reads it the same way. The alternatives measured here, on
the long reviews of a split only (the others are read whole by every way):

- `head`, `tail`, `head_tail`: the same model with another cut, set on its loaded tokenizer;
- `chunks`: every window of `max_length` tokens, overlapping by `chunk_overlap`, their probabilities averaged
  (`SentimentPredictor.predict_probabilities(chunk_overlap=...)`, what `predict.py --chunk_overlap` does).

`write_reading` makes a way the folder's own (its `tokenizer_config.json`), and `rescore_test_split` computes the
test figures it then gives, for its saved predictions, results and card; a choice belongs to the validation split,
never to the test split.
"""

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers.tokenization_utils_base import TOKENIZER_CONFIG_FILE

from evaluation.model_evaluation import saved_probabilities
from inference.predictor import CHUNK_OVERLAP_KEY, SentimentPredictor
from models.tokenization_truncation import TRUNCATION_SIDES, TRUNCATIONS, TruncatingTokenizer
from trainers.calibration import CALIBRATION_TEMPERATURE_KEY, test_result_entries
from trainers.metrics import label_metrics
from trainers.run_folder import (
    RESULTS_FILE,
    TEST_PREDICTIONS_FILE,
    read_results,
    write_predictions,
    write_results,
)

CHUNKS = "chunks"
WAYS = (*TRUNCATIONS, CHUNKS)


@dataclass(frozen=True)
class Way:
    """One way of reading a long review: a cut (`truncation`, with `head_tokens` for head_tail) or overlapping
    windows (`chunks`, with `chunk_overlap`)."""

    name: str
    head_tokens: int | None = None
    chunk_overlap: int | None = None

    def describe(self) -> str:
        if self.name == "head_tail":
            return f"head_tail ({self.head_tokens} tokens from the start, the rest from the end)"
        if self.name == CHUNKS:
            return f"chunks (windows overlapping by {self.chunk_overlap} tokens, probabilities averaged)"
        return self.name


def ways_to_compare(names: Sequence[str], head_tokens: int, chunk_overlap: int) -> list[Way]:
    unknown = sorted(set(names) - set(WAYS))
    if unknown:
        raise ValueError(f"Unknown way(s) {unknown}; choose among {list(WAYS)}.")
    return [
        Way(name, head_tokens=head_tokens if name == "head_tail" else None,
            chunk_overlap=chunk_overlap if name == CHUNKS else None)
        for name in names
    ]  # fmt: skip


def token_lengths(predictor: SentimentPredictor, texts: Sequence[str]) -> np.ndarray:
    """Each review's length in the model's tokens, special tokens included, uncut."""
    encoded = predictor.tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]
    return np.array([len(ids) for ids in encoded])


@contextmanager
def cutting(predictor: SentimentPredictor, truncation: str, head_tokens: int | None) -> Iterator[None]:
    """The predictor's tokenizer cuts by `truncation` (and `head_tokens`) inside the block, as saved before after."""
    tokenizer = predictor.tokenizer
    # By name: a folder's tokenizer class is its own copy of the module (remote code), not this project's class.
    if type(tokenizer).__name__ != TruncatingTokenizer.__name__:
        raise ValueError(
            f"The model's tokenizer ({type(tokenizer).__name__}) is not this project's {TruncatingTokenizer.__name__}: "
            "only its own cut can be measured."
        )
    saved = dict(tokenizer.init_kwargs), tokenizer.truncation_side, tokenizer._layout
    tokenizer.init_kwargs.update(truncation=truncation, head_tokens=head_tokens)
    tokenizer.truncation_side = TRUNCATION_SIDES[truncation]
    try:
        tokenizer.kept_from_start(tokenizer.model_max_length)  # refuses a cut that leaves no room, before any work
        yield
    finally:
        tokenizer.init_kwargs.clear()
        tokenizer.init_kwargs.update(saved[0])
        tokenizer.truncation_side, tokenizer._layout = saved[1], saved[2]


def read_long_reviews(
    predictor: SentimentPredictor, texts: Sequence[str], way: Way, batch_size: int
) -> tuple[np.ndarray, float]:
    """The class probabilities of `texts` read `way`, and the seconds it took."""
    started = time.perf_counter()
    if way.name == CHUNKS:
        probabilities = predictor.predict_probabilities(
            texts, batch_size, show_progress=True, chunk_overlap=way.chunk_overlap
        )
    else:
        with cutting(predictor, way.name, way.head_tokens):
            probabilities = predictor.predict_probabilities(texts, batch_size, show_progress=True, chunk_overlap=None)
    return probabilities, time.perf_counter() - started


def long_review_table(
    predictor: SentimentPredictor,
    texts: Sequence[str],
    labels: np.ndarray,
    ways: Sequence[Way],
    batch_size: int = 32,
) -> dict:
    """Accuracy and speed of each way on the reviews of `texts` longer than the model's `max_length` tokens.

    `labels` are class indices of the model's own labels. Returns the counts, the folder's saved cut and a row per
    way: accuracy on the long reviews, reviews/s on them, and the accuracy the whole split would have (the short
    reviews are read whole, the same by every way)."""
    labels = np.asarray(labels)
    lengths = token_lengths(predictor, texts)
    long = np.flatnonzero(lengths > predictor.max_length)
    if len(long) == 0:
        raise ValueError(f"None of the {len(texts)} reviews is longer than the model's {predictor.max_length} tokens.")
    short = np.flatnonzero(lengths <= predictor.max_length)
    short_correct = 0
    if len(short):
        short_probabilities = predictor.predict_probabilities([texts[index] for index in short], batch_size)
        short_correct = int((short_probabilities.argmax(1) == labels[short]).sum())
    long_texts = [texts[index] for index in long]
    rows = []
    for way in ways:
        probabilities, seconds = read_long_reviews(predictor, long_texts, way, batch_size)
        correct = int((probabilities.argmax(1) == labels[long]).sum())
        rows.append({
            "way": way.name, "description": way.describe(), "head_tokens": way.head_tokens,
            "chunk_overlap": way.chunk_overlap, "accuracy": correct / len(long),
            "reviews_per_second": len(long) / seconds, "split_accuracy": (correct + short_correct) / len(texts),
        })  # fmt: skip
    return {
        "reviews": len(texts),
        "long_reviews": len(long),
        "max_length": predictor.max_length,
        "median_long_review_tokens": int(np.median(lengths[long])),
        "saved_truncation": predictor.truncation,
        "saved_head_tokens": getattr(predictor.tokenizer, "head_tokens", None),
        "saved_chunk_overlap": predictor.saved_chunk_overlap,
        "rows": rows,
    }


def best_way(table: dict) -> dict:
    """The row with the highest accuracy on the long reviews; of equals, the first listed."""
    return max(table["rows"], key=lambda row: row["accuracy"])


def long_review_markdown(table: dict, split: str) -> str:
    base = table["rows"][0]["reviews_per_second"]
    lines = [
        f"{table['long_reviews']:,} of the {table['reviews']:,} {split} reviews are longer than the model's "
        f"{table['max_length']} tokens (median {table['median_long_review_tokens']:,} tokens); the folder cuts by "
        f"`{table['saved_truncation']}`"
        + (f" ({table['saved_head_tokens']} tokens from the start)" if table["saved_head_tokens"] else "")
        + (
            f" and reads in windows overlapping by {table['saved_chunk_overlap']} tokens where it can (not `pipeline`)."
            if table["saved_chunk_overlap"] is not None
            else "."
        ),
        "",
        f"| way of reading a long review | accuracy on the long reviews | {split} accuracy | "
        f"long reviews/s | time vs {table['rows'][0]['way']} |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in table["rows"]:
        lines.append(
            f"| {row['description']} | {100 * row['accuracy']:.2f}% | {100 * row['split_accuracy']:.2f}% | "
            f"{row['reviews_per_second']:,.1f} | {base / row['reviews_per_second']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def write_reading(folder: str | Path, way: Way) -> None:
    """Makes `way` how the folder reads a long review, in its `tokenizer_config.json`: a cut (`truncation`, with
    `head_tokens` for head_tail), which every door applies, or windows (`chunk_overlap`), which the project's doors
    apply (`SentimentPredictor`: predict.py, the server, the demo, on either backend) while `pipeline`, which cannot
    split a text, keeps the saved cut."""
    path = Path(folder) / TOKENIZER_CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"{folder} has no {TOKENIZER_CONFIG_FILE}: not a model folder whose reading can be set.")
    config = json.loads(path.read_text())
    if way.name == CHUNKS:
        config[CHUNK_OVERLAP_KEY] = way.chunk_overlap
    else:
        if config.get("tokenizer_class") != TruncatingTokenizer.__name__:
            raise ValueError(f"{path} is not a {TruncatingTokenizer.__name__}'s: its cut cannot be set.")
        config.pop(CHUNK_OVERLAP_KEY, None)
        config.update(
            truncation=way.name,
            truncation_side=TRUNCATION_SIDES[way.name],
            head_tokens=way.head_tokens if way.name == "head_tail" else None,
        )
    path.unlink()  # a hard link shared with another folder is replaced, never written through
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def rescore_test_split(
    folder: str | Path,
    predictor: SentimentPredictor,
    texts: Sequence[str],
    labels: np.ndarray,
    way: Way,
    batch_size: int = 32,
) -> dict:
    """The test figures of a folder that now reads long reviews `way`: its saved `test_predictions.csv` (of the
    test split's `texts` and `labels`, in order) with the long reviews read again that way (the others are read whole
    by every way, so their saved probabilities stand), its accuracy, F1, precision, recall and NLL computed again,
    and, for a calibrated folder, the test ECE and NLL before and after its temperature. Returns the new
    `all_results.json`, the probabilities and the accuracy before; writes nothing."""
    probabilities, names = saved_probabilities(str(Path(folder) / TEST_PREDICTIONS_FILE), labels)
    if names != predictor.labels:
        raise ValueError(f"{TEST_PREDICTIONS_FILE} has labels {names}, the model {predictor.labels}.")
    saved_labels = np.asarray(labels)
    long = np.flatnonzero(token_lengths(predictor, texts) > predictor.max_length)
    probabilities = probabilities.astype(np.float32)
    if len(long):
        probabilities[long] = read_long_reviews(predictor, [texts[index] for index in long], way, batch_size)[0]
    results = read_results(folder)
    previous_accuracy = results.get("test_accuracy")
    results.update({f"test_{name}": value for name, value in
                    label_metrics(saved_labels, probabilities.argmax(1), len(names)).items()})  # fmt: skip
    # The file keeps six decimals: a probability written as 0 is taken as the smallest it can stand for.
    log_probabilities = np.log(np.maximum(probabilities, 5e-7))
    results["test_loss"] = float(-log_probabilities[np.arange(len(saved_labels)), saved_labels].mean())
    temperature = results.get(CALIBRATION_TEMPERATURE_KEY)
    if temperature is not None:
        results.update(test_result_entries(log_probabilities, saved_labels, temperature))
    for timing in ("test_runtime", "test_samples_per_second", "test_steps_per_second"):  # the run's pass, another way
        results.pop(timing, None)
    results["long_review_reading"] = {
        "way": way.name, "description": way.describe(), "head_tokens": way.head_tokens,
        "chunk_overlap": way.chunk_overlap, "chosen_on": "validation", "test_reviews_read_again": len(long),
    }  # fmt: skip
    return {"results": results, "labels": saved_labels, "probabilities": probabilities, "class_names": names,
            "previous_test_accuracy": previous_accuracy}  # fmt: skip


def write_rescored_test_split(folder: str | Path, rescored: dict) -> None:
    """Writes what `rescore_test_split` computed: `test_predictions.csv` and `all_results.json` (the model card is
    generated from them again by the caller)."""
    folder = Path(folder)
    predictions = folder / TEST_PREDICTIONS_FILE
    predictions.unlink()
    write_predictions(predictions, rescored["labels"], rescored["probabilities"], rescored["class_names"])
    (folder / RESULTS_FILE).unlink()
    write_results(folder, rescored["results"])
