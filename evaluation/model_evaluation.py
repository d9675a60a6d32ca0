"""Evaluating a model folder (or Hub id) on a dataset split, as `scripts/evaluate_model.py` does: the split as training
carved it, the model's probabilities (or those a training run saved), the report with temperature scaling's before
and after, the tricky reviews and the minimal pairs."""

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.labels import match_labels, to_dataset_classes
from inference.predictor import SAVED_READING, load_predictor
from trainers.calibration import folder_temperature, rescale_probabilities
from trainers.data import DEFAULT_VALIDATION_FRACTION, DatasetSource, class_names, load_sentiment_splits
from trainers.run_folder import read_predictions

from .report import (
    MINIMAL_PAIRS_FILE,
    TRICKY_REVIEWS_FILE,
    decimal,
    evaluation_report,
    load_minimal_pairs,
    load_tricky_reviews,
    percent,
    score_hard_cases,
)

SPLITS = ("test", "validation", "train")


@dataclass
class EvaluationOptions:
    """How a model is evaluated (the options of `scripts/evaluate_model.py`)."""

    split: str = "test"
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    seed: int = 42
    max_samples: int | None = None
    predictions: str | None = None
    batch_size: int = 32
    chunk_overlap: int | None | str = SAVED_READING
    device: str = "cpu"
    backend: str = "torch"
    label_map: tuple[str, ...] = ()
    tricky_reviews: str = str(TRICKY_REVIEWS_FILE)
    pairs: str = str(MINIMAL_PAIRS_FILE)
    confident_errors: int = 10
    calibration_bins: int = 10


def parse_label_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        model_label, separator, dataset_label = pair.partition("=")
        if not separator or not model_label or not dataset_label:
            raise ValueError(f"--label_map takes MODEL_LABEL=DATASET_LABEL pairs, got '{pair}'.")
        mapping[model_label] = dataset_label
    return mapping


def evaluated_split(source: DatasetSource, arguments: EvaluationOptions):
    """The split to evaluate on, as training made it (the same fraction and seed), cut to --max_samples, and the
    dataset's classes."""
    if arguments.max_samples is not None and arguments.max_samples < 1:
        raise ValueError(f"--max_samples must be at least 1, got {arguments.max_samples}.")
    splits = load_sentiment_splits(
        source,
        validation_fraction=arguments.validation_fraction,
        seed=arguments.seed,
        max_test_samples=arguments.max_samples if arguments.split == "test" else None,
    )
    split = splits[arguments.split]
    if arguments.split != "test" and arguments.max_samples is not None:
        split = split.shuffle(seed=arguments.seed).select(range(min(arguments.max_samples, len(split))))
    return split, class_names(splits)


def saved_probabilities(path: str, labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The probabilities of a predictions file, refused unless its rows are this split's reviews' labels in order."""
    saved_labels, probabilities, model_labels = read_predictions(path)
    if len(saved_labels) != len(labels) or not np.array_equal(saved_labels, labels):
        raise ValueError(
            f"{path} holds predictions for {len(saved_labels)} reviews whose labels are not this split's "
            f"({len(labels)} reviews): it was written for another split, subset or seed."
        )
    return probabilities, model_labels


def evaluate_model(model: str, source: DatasetSource, options: EvaluationOptions) -> dict:
    """The evaluation report of `model` on `source`'s split (`evaluation_report`, then `score_hard_cases`), with
    where its figures come from under `source`. Every file is read, and every option checked, before the model runs."""
    label_map = parse_label_map(options.label_map)
    tricky, pairs = load_tricky_reviews(options.tricky_reviews), load_minimal_pairs(options.pairs)
    predictor = load_predictor("model", model, options.device, options.backend)
    split, dataset_classes = evaluated_split(source, options)
    texts, labels = list(split["text"]), np.array(split["label"])
    mapping = match_labels(predictor.labels, dataset_classes, label_map)
    origin = {"model": model, "dataset": source.describe(), "split": options.split}
    if options.predictions:
        model_probabilities, saved_labels = saved_probabilities(options.predictions, labels)
        if saved_labels != predictor.labels:
            raise ValueError(f"{options.predictions} has labels {saved_labels}, the model {predictor.labels}.")
        origin["predictions"] = options.predictions
    else:
        started = time.perf_counter()
        model_probabilities = predictor.predict_probabilities(
            texts, options.batch_size, show_progress=True, chunk_overlap=options.chunk_overlap
        )
        speed = len(texts) / (time.perf_counter() - started)
        chunk_overlap = predictor.chunk_overlap_for(options.chunk_overlap)
        origin.update(device=options.device, backend=options.backend, batch_size=options.batch_size)
        origin["long_reviews"] = (
            f"windows overlapping by {chunk_overlap} tokens" if chunk_overlap is not None else predictor.truncation
        )
        origin["reviews_per_second"] = round(speed, 1)
    probabilities = to_dataset_classes(model_probabilities, mapping, len(dataset_classes))
    scaling = {"temperature": folder_temperature(model)}
    if scaling["temperature"] is not None:  # what the model gave before its temperature scaling
        unscaled = rescale_probabilities(model_probabilities, scaling["temperature"])
        scaling["unscaled_probabilities"] = to_dataset_classes(unscaled, mapping, len(dataset_classes))
    report = evaluation_report(
        labels, probabilities, texts, dataset_classes, options.calibration_bins, options.confident_errors, **scaling
    )
    # None each when the model's labels do not map onto NEGATIVE and POSITIVE (the log says why).
    report.update(score_hard_cases(predictor.predict_probabilities, predictor.labels, tricky, pairs, label_map))
    return {"source": origin, **report}


def training_log_history(model: str) -> list[dict] | None:
    """The training curves of a local model folder (its `trainer_state.json`), if it has them."""
    state_file = Path(model) / "trainer_state.json"
    return json.loads(state_file.read_text())["log_history"] if state_file.is_file() else None


def summary_line(report: dict) -> str:
    """The report's headline figures on one line."""
    line = (
        f"{report['source']['split']}: {report['samples']:,} reviews, accuracy {decimal(report['accuracy'])}, "
        f"F1 {decimal(report['f1'])}, macro F1 {decimal(report['macro_f1'])}, ROC-AUC {decimal(report['roc_auc'])}, "
        f"ECE {decimal(report['calibration']['expected_calibration_error'])}, "
        f"NLL {decimal(report['negative_log_likelihood'])}"
    )
    if report["tricky_reviews"]:
        line += f", tricky reviews {percent(report['tricky_reviews']['accuracy'])}"
    if report["minimal_pairs"]:
        line += f", minimal pairs both right {percent(report['minimal_pairs']['consistency'])}"
    return line
