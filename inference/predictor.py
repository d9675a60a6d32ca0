"""Labelling reviews with saved model folders: what `scripts/predict.py`, `serve.py` and `demo.py` share.

A `SentimentPredictor` wraps one model folder (or Hub id) and its tokenizer, and labels lists of reviews in
length-sorted batches, one forward pass per batch, with reviews cut at the tokenizer's `model_max_length`. The model
runs on one of `BACKENDS`: `torch` loads it through the Auto classes with `trust_remote_code`, exactly as a user of
the Hub would (`torch_runtime.py`), `torch-bf16` the same with its weights cast to bfloat16; `onnx` and `onnx-int8`
run the folder's ONNX export (`scripts/export_onnx.py`) with ONNX Runtime, without importing torch
(`onnx_runtime.py`). Each is a callable from an encoded batch to logits, as numpy, so batching, chunking and
probabilities are the same code for all. `prediction_records` turns the probabilities into the records every entry
point prints or returns:

    {"label": "pos", "score": 0.93, "scores": [{"label": "pos", "score": 0.93}, ...top_k entries]}
"""

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import numpy as np
from tqdm.auto import tqdm
from transformers import BatchEncoding, PreTrainedTokenizerBase

from .batching import length_sorted_batches
from .sources import check_model_folder

# Tokenizers without a length limit report this huge sentinel as `model_max_length`.
UNLIMITED_LENGTH = int(1e29)
INPUT_FORMATS = ("text", "csv", "jsonl")
OUTPUT_FORMATS = ("jsonl", "csv")
# What runs the model: PyTorch in float32 or bfloat16, or ONNX Runtime on the folder's float or int8 ONNX export.
BACKENDS = ("torch", "torch-bf16", "onnx", "onnx-int8")
# The PyTorch backends and the dtype their weights load in ("auto": the folder's own, as `from_pretrained` loads it).
TORCH_DTYPES = {"torch": "auto", "torch-bf16": "bfloat16"}
BACKEND_HELP = (
    "What runs the model: torch; torch-bf16, its weights cast to bfloat16 (faster on GPUs and on CPUs with bfloat16 "
    "instructions, such as AVX512-BF16 or AMX; slower on others); or ONNX Runtime on the folder's onnx/model.onnx "
    "(onnx) or onnx/model_int8.onnx (onnx-int8), written by scripts/export_onnx.py. The ONNX backends need a local "
    "folder and never import torch."
)


# `predict_probabilities(chunk_overlap=SAVED_READING)`: read long reviews as the folder says, in windows overlapping by
# its tokenizer_config.json's `chunk_overlap` (written by scripts/benchmark_long_reviews.py --write_best when windows
# win on validation), else cut by its tokenizer's rule.
SAVED_READING = "saved"
CHUNK_OVERLAP_KEY = "chunk_overlap"
CHUNK_OVERLAP_HELP = (
    "Split long reviews into windows of the model's maximum length sharing this many tokens, and average their "
    "scores; 'none' cuts them at the maximum length by the folder's rule. Default: 'saved', as the folder says "
    "(its tokenizer_config.json's chunk_overlap if it has one, else its cut)."
)


def chunk_overlap_option(value: str) -> int | None | str:
    """The argparse type of `--chunk_overlap`: a number of tokens, `none` (cut, never split) or `saved` (as the folder
    says, the default)."""
    if value.strip().lower() == "none":
        return None
    if value == SAVED_READING:
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of tokens, 'none' or 'saved', got {value!r}") from None


class InputError(ValueError):
    """The reviews given cannot be labelled as they are; the message says where and why."""


class UnencodableReviewError(InputError):
    """The tokenizer raised on one review; `index` is its position among the reviews given, so callers can name it."""

    def __init__(self, index: int, reason: Exception):
        self.index = index
        self.reason = f"{type(reason).__name__}: {reason}"
        super().__init__(f"Review {index + 1} cannot be tokenized ({self.reason}).")


class Classifier(Protocol):
    """A loaded model as a backend runs it (`TorchClassifier`, `OnnxClassifier`): an encoded batch in, logits out."""

    backend_name: str
    id2label: Mapping[int, str]
    problem_type: str | None
    model_type: str | None
    num_parameters: int | None

    def __call__(self, encoded: Mapping[str, np.ndarray]) -> np.ndarray: ...


@dataclass
class SentimentPredictor:
    """One loaded sentiment model, its tokenizer and the name it is served under."""

    name: str
    classifier: Classifier
    tokenizer: PreTrainedTokenizerBase

    @property
    def labels(self) -> list[str]:
        return [self.classifier.id2label[index] for index in range(len(self.classifier.id2label))]

    @property
    def max_length(self) -> int:
        return self.tokenizer.model_max_length

    @property
    def truncation(self) -> str:
        """What a review longer than `max_length` keeps (`head`, `tail`, `head_tail`), as the tokenizer cuts it."""
        library_rule = {"right": "head", "left": "tail"}[self.tokenizer.truncation_side]
        return getattr(self.tokenizer, "truncation", None) or library_rule

    @property
    def saved_chunk_overlap(self) -> int | None:
        """The overlap of the windows the folder reads a long review in (its tokenizer_config.json's
        `chunk_overlap`); None when it cuts long reviews instead."""
        return self.tokenizer.init_kwargs.get(CHUNK_OVERLAP_KEY)

    def chunk_overlap_for(self, requested: int | None | str) -> int | None:
        """The window overlap a request means: `SAVED_READING` is the folder's own (`saved_chunk_overlap`)."""
        return self.saved_chunk_overlap if requested == SAVED_READING else requested

    def describe(self) -> dict:
        """What a client needs to know about this model: its labels, how it reads long reviews, and its size."""
        return {
            "name": self.name,
            "model_type": self.classifier.model_type,
            "backend": self.classifier.backend_name,
            "labels": self.labels,
            "max_length": self.max_length,
            "truncation": self.truncation,
            "head_tokens": getattr(self.tokenizer, "head_tokens", None),
            "chunk_overlap": self.saved_chunk_overlap,
            "num_parameters": self.classifier.num_parameters,
        }

    def predict_probabilities(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        show_progress: bool = False,
        chunk_overlap: int | None | str = SAVED_READING,
        progress: tqdm | None = None,
    ) -> np.ndarray:
        """Label probabilities, one row per review, in the order given (float32).

        Reviews are sorted by length before batching so that each batch pads to similar lengths (padding is most of
        the cost of a mixed batch), then put back in order. The probability function is the one `pipeline` applies:
        softmax over several labels, sigmoid for a single output or multi-label models.

        A review longer than `max_length` tokens is cut by the rule saved with the model's tokenizer (its head, its
        tail, or both: `truncation`), as training cut it, when `chunk_overlap` is None; given a number, it is split
        into windows of `max_length` tokens, each sharing `chunk_overlap` tokens with the previous one, and its
        probabilities are the mean over its windows, so that a verdict at the end of a long review counts too. By
        default (`SAVED_READING`), as the folder says: `saved_chunk_overlap`.

        `show_progress` shows a progress bar of its own; an open `progress` bar (one over a larger input) is advanced
        instead.
        """
        chunk_overlap = self.chunk_overlap_for(chunk_overlap)
        self._check_chunk_overlap(chunk_overlap)
        probabilities = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        disable_own_bar = not show_progress or progress is not None
        with tqdm(total=len(texts), unit="review", disable=disable_own_bar, file=sys.stderr) as own_bar:
            bar = progress if progress is not None else own_bar
            for batch_indices in length_sorted_batches([len(text) for text in texts], batch_size):
                try:
                    encoded = self._encode([texts[index] for index in batch_indices], chunk_overlap)
                except Exception as error:
                    raise self._unencodable(texts, batch_indices.tolist(), chunk_overlap, error) from error
                # Which review each row (window) belongs to: one row per review when nothing is chunked.
                review_of_row = encoded.pop("overflow_to_sample_mapping", np.arange(len(batch_indices)))
                row_probabilities = self.to_probabilities(self.classifier(dict(encoded)))
                sums = np.zeros((len(batch_indices), row_probabilities.shape[1]), dtype=np.float32)
                np.add.at(sums, review_of_row, row_probabilities)
                windows = np.bincount(review_of_row, minlength=len(batch_indices))[:, np.newaxis]
                probabilities[batch_indices] = sums / windows
                bar.update(len(batch_indices))
        return probabilities

    def _encode(self, texts: list[str], chunk_overlap: int | None) -> BatchEncoding:
        return self.tokenizer(
            texts,
            truncation=True,
            padding=True,
            return_tensors="np",
            return_overflowing_tokens=chunk_overlap is not None,
            stride=chunk_overlap or 0,
        )

    def _unencodable(
        self, texts: Sequence[str], indices: Sequence[int], chunk_overlap: int | None, error: Exception
    ) -> Exception:
        """The error naming the first of `indices` that the tokenizer refuses alone, found only after a batch failed;
        the batch's own `error` if each review passes alone (then no single review is to blame)."""
        for index in indices:
            try:
                self._encode([texts[index]], chunk_overlap)
            except Exception as alone:
                return UnencodableReviewError(index, alone)
        return error

    def _check_chunk_overlap(self, chunk_overlap: int | None) -> None:
        if chunk_overlap is None:
            return
        window = self.max_length - self.tokenizer.num_special_tokens_to_add(pair=False)
        if not 0 <= chunk_overlap < window:
            raise InputError(
                f"chunk_overlap must be at least 0 and less than the {window} tokens of a window, got {chunk_overlap}."
            )

    def to_probabilities(self, logits: np.ndarray) -> np.ndarray:
        """What `pipeline` applies: softmax over several labels, sigmoid for a single output or multi-label models."""
        if len(self.labels) == 1 or self.classifier.problem_type == "multi_label_classification":
            return 1.0 / (1.0 + np.exp(-logits))
        exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return exponentials / exponentials.sum(axis=-1, keepdims=True)


def load_predictor(name: str, model_path: str, device: str = "cpu", backend: str = "torch") -> SentimentPredictor:
    """Loads a saved model folder or Hub id the way a user would: with `torch`, the Auto classes and
    `trust_remote_code=True` (`torch-bf16`: in bfloat16); with `onnx` or `onnx-int8`, the folder's tokenizer and its
    ONNX export.

    Fails with a one-line `SourceError` (a ValueError) naming the place when the folder is missing or not a model
    (see `check_model_folder`), or when the Hub has no such model; with a ValueError when an ONNX backend finds no
    export (saying how to make one), and when the tokenizer has no `model_max_length`, since then long reviews could
    not be truncated and a 5,000-word review would run through the model whole.
    """
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend '{backend}'; choose one of {BACKENDS}.")
    check_model_folder(model_path)
    # Each backend's module is imported only when chosen: the torch one imports torch, the ONNX one onnxruntime.
    if backend in TORCH_DTYPES:
        from .torch_runtime import load_torch_model

        tokenizer, classifier = load_torch_model(model_path, device, backend)
    else:
        from .onnx_runtime import load_onnx_model

        tokenizer, classifier = load_onnx_model(model_path, backend, device)
    if tokenizer.model_max_length >= UNLIMITED_LENGTH:
        raise ValueError(f"The tokenizer of '{model_path}' sets no model_max_length, so reviews cannot be truncated.")
    return SentimentPredictor(name=name, classifier=classifier, tokenizer=tokenizer)


def parse_model_specs(specs: Iterable[str]) -> dict[str, str]:
    """`["lstm=outputs/lstm-imdb", ...]` -> `{"lstm": "outputs/lstm-imdb", ...}`, refusing unnamed or repeated names."""
    models: dict[str, str] = {}
    for spec in specs:
        name, separator, path = spec.partition("=")
        name, path = name.strip(), path.strip()
        if not separator or not name or not path:
            raise ValueError(f"A model is given as NAME=FOLDER_OR_HUB_ID (e.g. lstm=outputs/lstm-imdb), got '{spec}'.")
        if name in models:
            raise ValueError(f"The model name '{name}' is given twice.")
        models[name] = path
    if not models:
        raise ValueError("No model given: name at least one as NAME=FOLDER_OR_HUB_ID.")
    return models


def check_top_k(top_k: int, labels: Sequence[str]) -> None:
    """Refuses a `top_k` the model cannot give, before any review is labelled."""
    if not 1 <= top_k <= len(labels):
        raise InputError(f"top_k must be between 1 and the number of labels ({len(labels)}), got {top_k}.")


def prediction_records(probabilities: np.ndarray, labels: Sequence[str], top_k: int = 1) -> list[dict]:
    """One record per review: the best label and score, and the `top_k` best labels with their scores."""
    check_top_k(top_k, labels)
    best_indices = np.argsort(-probabilities, axis=-1, kind="stable")[:, :top_k]
    best_scores = np.take_along_axis(probabilities, best_indices, axis=-1)
    records = []
    for scores, indices in zip(best_scores.tolist(), best_indices.tolist()):
        ranked = [{"label": labels[index], "score": score} for index, score in zip(indices, scores)]
        records.append({"label": ranked[0]["label"], "score": ranked[0]["score"], "scores": ranked})
    return records


def check_encodable(text: str, where: str) -> None:
    """Refuses text that is not valid Unicode, which no tokenizer can take, naming it by `where` (e.g. `texts[2]`).

    A Python string can hold surrogate code points that UTF-8 cannot encode: JSON's escape `"\\ud800"` with no
    partner, or bytes that were not UTF-8 read with `surrogateescape` (command-line arguments, some standard inputs).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        surrogate = f"\\u{ord(text[error.start]):04x}"
        raise InputError(
            f"{where} holds an unpaired surrogate ({surrogate} at character {error.start + 1}), which is not text: "
            "send valid Unicode (UTF-8)."
        ) from error


def check_reviews(texts: Sequence[str], source: str) -> None:
    """Refuses an empty list and blank or invalid reviews, naming the first offending row of `source`."""
    if not texts:
        raise InputError(f"No reviews in {source}.")
    for number, text in enumerate(texts, 1):
        check_review(text, number, source)


def check_review(text: str, number: int, source: str) -> None:
    """Refuses a blank or invalid review, naming it as review `number` (counted from 1) of `source`."""
    if not text.strip():
        raise InputError(f"Review {number} of {source} is empty or only whitespace.")
    check_encodable(text, f"Review {number} of {source}")


def read_reviews(stream: IO[str], input_format: str, column: str, source: str) -> list[str]:
    """All the reviews of `stream` (see `iter_reviews`)."""
    return list(iter_reviews(stream, input_format, column, source))


def iter_reviews(stream: IO[str], input_format: str, column: str, source: str) -> Iterator[str]:
    """Reads reviews one at a time from text (one per line), CSV (a header row and `column`) or JSONL (`column` of
    each object), refusing, as `check_reviews` does, blank or invalid ones and a source with none."""
    if input_format == "text":
        # Each line split as `str.splitlines` splits, which also breaks lines at form feeds, \u2028 and the like.
        texts = (text for line in stream for text in line.splitlines())
    elif input_format == "csv":
        csv.field_size_limit(sys.maxsize)  # some reviews are longer than csv's default 131,072-character cap
        reader = csv.DictReader(stream)
        if reader.fieldnames is None:
            raise InputError(f"No reviews in {source}: it has no header row.")
        if column not in reader.fieldnames:
            raise InputError(
                f"{source} has no column '{column}' (its columns: {reader.fieldnames}); choose one with --column."
            )
        texts = (row[column] if row[column] is not None else "" for row in reader)
    elif input_format == "jsonl":
        texts = (_jsonl_text(line, column, source, number) for number, line in enumerate(stream, 1) if line.strip())
    else:
        raise InputError(f"Unknown input format '{input_format}'; choose one of {INPUT_FORMATS}.")
    count = 0
    for count, text in enumerate(texts, 1):
        check_review(text, count, source)
        yield text
    if count == 0:
        raise InputError(f"No reviews in {source}.")


def _jsonl_text(line: str, column: str, source: str, line_number: int) -> str:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"Line {line_number} of {source} is not valid JSON: {error.msg}.") from error
    if not isinstance(row, dict) or column not in row:
        found = list(row) if isinstance(row, dict) else type(row).__name__
        raise InputError(
            f"Line {line_number} of {source} has no field '{column}' (found: {found}); choose one with --column."
        )
    if not isinstance(row[column], str):
        kind = type(row[column]).__name__
        raise InputError(f"Field '{column}' on line {line_number} of {source} is {kind}, not text.")
    # Checked here too, not only by `check_reviews`, to name the file's line: blank lines are skipped, so the review's
    # number is not its line's.
    check_encodable(row[column], f"Line {line_number} of {source}")
    return row[column]


def format_from_suffix(path: str | None, known: Sequence[str], default: str) -> str:
    """Picks a file format from its suffix (`.txt` is text, `.json` is JSONL), or `default` for stdin/stdout."""
    if path is None or path == "-":
        return default
    suffix = Path(path).suffix.lower().lstrip(".")
    suffix = {"txt": "text", "json": "jsonl", "ndjson": "jsonl"}.get(suffix, suffix)
    if suffix not in known:
        raise InputError(f"Cannot tell the format of '{path}' from its suffix; name it with one of {list(known)}.")
    return suffix


def write_records(records: Iterable[dict], stream: IO[str], output_format: str) -> None:
    """Writes records as JSONL (as they are) or CSV (`label, score`, then `label_2, score_2`... for the top_k), one at
    a time as they come."""
    if output_format == "jsonl":
        for record in records:
            stream.write(json.dumps(record) + "\n")
    elif output_format == "csv":
        writer = csv.writer(stream)
        for number, record in enumerate(records):
            if number == 0:
                top_k = len(record["scores"])
                later_ranks = [name for rank in range(2, top_k + 1) for name in (f"label_{rank}", f"score_{rank}")]
                writer.writerow(["label", "score"] + later_ranks)
            writer.writerow([value for entry in record["scores"] for value in (entry["label"], entry["score"])])
    else:
        raise InputError(f"Unknown output format '{output_format}'; choose one of {OUTPUT_FORMATS}.")
