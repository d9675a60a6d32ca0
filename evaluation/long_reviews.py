"""Reviews longer than a model reads: how much each way of reading them is worth, and making the best one the
folder's own.

A model folder cuts a review longer than its `model_max_length` tokens by the rule its tokenizer saved (`truncation`:
its head, its tail, or its first `head_tokens` tokens and its end; see models/tokenization_truncation.py), so every
door (pipeline, predict.py, the server, the demo, ONNX) reads it the same way. The alternatives measured here, on
the long reviews of a split only (the others are read whole by every way):

- `head`, `tail`, `head_tail`: the same model with another cut, set on its loaded tokenizer;
- `chunks`: every window of `max_length` tokens, overlapping by `chunk_overlap`, their probabilities averaged
  (`SentimentPredictor.predict_probabilities(chunk_overlap=...)`, what `predict.py --chunk_overlap` does).

`write_truncation` makes a cut the folder's own (its `tokenizer_config.json`); a choice belongs to the validation
split, never to the test split.
"""

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.predictor import SentimentPredictor
from models.tokenization_truncation import TRUNCATION_SIDES, TRUNCATIONS, TruncatingTokenizer

TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
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
            probabilities = predictor.predict_probabilities(texts, batch_size, show_progress=True)
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
        + (f" ({table['saved_head_tokens']} tokens from the start)." if table["saved_head_tokens"] else "."),
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


def write_truncation(folder: str | Path, truncation: str, head_tokens: int | None) -> None:
    """Makes `truncation` (with `head_tokens` for head_tail) the cut the folder's tokenizer saves, so every door reads
    long reviews that way."""
    if truncation not in TRUNCATIONS:
        raise ValueError(
            f"A folder's tokenizer cuts by one of {TRUNCATIONS}; {truncation!r} is read at prediction time only "
            "(predict.py --chunk_overlap)."
        )
    path = Path(folder) / TOKENIZER_CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"{folder} has no {TOKENIZER_CONFIG_FILE}: not a model folder whose cut can be set.")
    config = json.loads(path.read_text())
    if config.get("tokenizer_class") != TruncatingTokenizer.__name__:
        raise ValueError(f"{path} is not a {TruncatingTokenizer.__name__}'s: its cut cannot be set.")
    config.update(
        truncation=truncation,
        truncation_side=TRUNCATION_SIDES[truncation],
        head_tokens=head_tokens if truncation == "head_tail" else None,
    )
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
