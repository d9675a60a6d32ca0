"""Evaluate a sentiment model (a saved folder of this project, or any Hub text classifier) on a labelled split.

    python scripts/evaluate_model.py outputs/lstm-imdb --dataset_name stanfordnlp/imdb
    python scripts/evaluate_model.py distilbert/distilbert-base-uncased-finetuned-sst-2-english --max_samples 2000
    python scripts/evaluate_model.py outputs/lstm-imdb --predictions outputs/lstm-imdb/test_predictions.csv
    python scripts/evaluate_model.py outputs/lstm-imdb --backend onnx-int8    # its ONNX export (export_onnx.py)
    python scripts/evaluate_model.py outputs/lstm-imdb --pairs my_pairs.csv  # your own minimal pairs

Writes into --output_dir: `evaluation.json` (every number), `evaluation.md` (the report) and PNG plots: confusion
matrix, reliability diagram, confidence histogram and, for a folder with a `trainer_state.json`, training curves.
Measured: accuracy, per-class precision/recall/F1, ROC-AUC, expected calibration error (ECE) and negative
log-likelihood (NLL), accuracy by review length, the most confident errors with their text, the tricky-reviews suite
(negation, sarcasm, contrast...) and the minimal pairs (--pairs; reviews beside minimally edited versions): both
sides right, accuracy on originals and on edits, and how often the label flips where the edit changes the true label
and where it does not, per phenomenon. For a model calibrated by temperature scaling (scripts/calibrate.py, or
training's calibrate_temperature), ECE, NLL and the reliability diagram are given before the scaling too.

The model's labels are matched to the dataset's by name ("pos" to "POSITIVE" or "positive", "LABEL_1"), so a model
can be scored on another dataset than its own (the data arguments are those of training: --dataset_name,
--text_column_name, --test_file...); say how with --label_map when names do not say. The validation split is the one training used only with the same --validation_fraction and
--seed. With --predictions, the class probabilities a training run saved for the test split are used instead of
running the model over it again (they must be for the same reviews, which is checked).

(Not `evaluate.py`: Python puts a script's folder first on `sys.path`, so a `scripts/evaluate.py` would stand in for
the `evaluate` package in every script here.)
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from transformers.utils import logging

from trainers.arguments import add_dataset_arguments, dataset_source
from trainers.calibration import folder_temperature, rescale_probabilities
from trainers.data import DEFAULT_VALIDATION_FRACTION, class_names, load_sentiment_splits
from trainers.evaluation import (
    MINIMAL_PAIRS_FILE,
    TRICKY_REVIEWS_FILE,
    decimal,
    evaluation_report,
    load_minimal_pairs,
    load_tricky_reviews,
    match_labels,
    percent,
    score_hard_cases,
    to_dataset_classes,
    write_report,
)
from trainers.inference import BACKEND_HELP, BACKENDS, load_predictor
from trainers.run_folder import read_predictions
from trainers.script_logging import setup_logging

logger = logging.get_logger(__name__)

SPLITS = ("test", "validation", "train")


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A saved model folder or a Hub id of a text classifier.")
    add_dataset_arguments(parser)
    parser.add_argument("--split", choices=SPLITS, default="test", help="Which split to evaluate on (default: test).")
    parser.add_argument(
        "--validation_fraction",
        type=float,
        default=DEFAULT_VALIDATION_FRACTION,
        help="As in training (default: %(default)s).",
    )
    parser.add_argument("--seed", type=int, default=42, help="As in training: it chooses the validation split and "
                        "the --max_samples subset (default: 42).")  # fmt: skip
    parser.add_argument("--max_samples", type=int, help="Evaluate on a seeded random subset of this many reviews.")
    parser.add_argument(
        "--predictions", help="A training run's test_predictions.csv to use instead of running the model on the split."
    )
    parser.add_argument("--batch_size", type=int, default=32, help="Reviews per forward pass (default: 32).")
    parser.add_argument("--chunk_overlap", type=int, help="Score long reviews by overlapping windows sharing this many "
                        "tokens (see scripts/predict.py) instead of cutting them.")  # fmt: skip
    parser.add_argument("--device", default="cpu", help="Device, e.g. cpu or cuda (default: cpu).")
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help=BACKEND_HELP)
    parser.add_argument("--label_map", nargs="+", default=[], metavar="MODEL_LABEL=DATASET_LABEL",
                        help="How the model's labels map to the dataset's, where their names do not say.")  # fmt: skip
    parser.add_argument("--tricky_reviews", default=str(TRICKY_REVIEWS_FILE),
                        help="JSONL file of hand-written hard reviews with expected labels (default: the project's).")  # fmt: skip
    parser.add_argument("--pairs", default=str(MINIMAL_PAIRS_FILE), help="Minimal pairs, CSV or JSON Lines: "
                        "original, original_label, edited, edited_label, optionally phenomenon (default: the "
                        "project's).")  # fmt: skip
    parser.add_argument("--confident_errors", type=int, default=10, help="How many confident errors to list.")
    parser.add_argument("--calibration_bins", type=int, default=10, help="Confidence bins for ECE (default: 10).")
    parser.add_argument(
        "--output_dir",
        help="Where to write the report (default: outputs/evaluation/<model>-<split>, then -<backend> unless torch).",
    )
    return parser.parse_args(args)


def parse_label_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        model_label, separator, dataset_label = pair.partition("=")
        if not separator or not model_label or not dataset_label:
            raise ValueError(f"--label_map takes MODEL_LABEL=DATASET_LABEL pairs, got '{pair}'.")
        mapping[model_label] = dataset_label
    return mapping


def evaluated_split(arguments: argparse.Namespace):
    """The split to evaluate on, as training made it (the same fraction and seed), cut to --max_samples, and the
    dataset's classes."""
    if arguments.max_samples is not None and arguments.max_samples < 1:
        raise ValueError(f"--max_samples must be at least 1, got {arguments.max_samples}.")
    splits = load_sentiment_splits(
        dataset_source(arguments),
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


def main(args: list[str] | None = None) -> dict:
    arguments = parse_arguments(args)
    setup_logging()
    try:
        label_map = parse_label_map(arguments.label_map)
        tricky, pairs = load_tricky_reviews(arguments.tricky_reviews), load_minimal_pairs(arguments.pairs)
        predictor = load_predictor("model", arguments.model, arguments.device, arguments.backend)
        split, dataset_classes = evaluated_split(arguments)
        texts, labels = list(split["text"]), np.array(split["label"])
        mapping = match_labels(predictor.labels, dataset_classes, label_map)
        source = {"model": arguments.model, "dataset": dataset_source(arguments).describe(), "split": arguments.split}
        if arguments.predictions:
            model_probabilities, saved_labels = saved_probabilities(arguments.predictions, labels)
            if saved_labels != predictor.labels:
                raise ValueError(f"{arguments.predictions} has labels {saved_labels}, the model {predictor.labels}.")
            source["predictions"] = arguments.predictions
        else:
            started = time.perf_counter()
            model_probabilities = predictor.predict_probabilities(
                texts, arguments.batch_size, show_progress=True, chunk_overlap=arguments.chunk_overlap
            )
            speed = len(texts) / (time.perf_counter() - started)
            source.update(device=arguments.device, backend=arguments.backend, batch_size=arguments.batch_size)
            source["reviews_per_second"] = round(speed, 1)
        probabilities = to_dataset_classes(model_probabilities, mapping, len(dataset_classes))
        scaling = {"temperature": folder_temperature(arguments.model)}
        if scaling["temperature"] is not None:  # what the model gave before its temperature scaling
            unscaled = rescale_probabilities(model_probabilities, scaling["temperature"])
            scaling["unscaled_probabilities"] = to_dataset_classes(unscaled, mapping, len(dataset_classes))
        report = evaluation_report(
            labels, probabilities, texts, dataset_classes, arguments.calibration_bins, arguments.confident_errors,
            **scaling,
        )  # fmt: skip
        # None each when the model's labels do not map onto NEGATIVE and POSITIVE (the log says why).
        report.update(score_hard_cases(predictor.predict_probabilities, predictor.labels, tricky, pairs, label_map))
    except (ValueError, OSError) as error:  # OSError: a tricky-reviews, pairs or predictions file that cannot be read
        sys.exit(f"error: {error}")
    report = {"source": source, **report}
    state_file = Path(arguments.model) / "trainer_state.json"
    log_history = json.loads(state_file.read_text())["log_history"] if state_file.is_file() else None
    backend_suffix = "" if arguments.backend == "torch" else f"-{arguments.backend}"
    output_dir = Path(
        arguments.output_dir
        or Path("outputs/evaluation") / f"{Path(arguments.model).name}-{arguments.split}{backend_suffix}"
    )
    write_report(report, output_dir, title=Path(arguments.model).name, log_history=log_history)
    print(
        f"{arguments.split}: {report['samples']:,} reviews, accuracy {decimal(report['accuracy'])}, "
        f"F1 {decimal(report['f1'])}, macro F1 {decimal(report['macro_f1'])}, ROC-AUC {decimal(report['roc_auc'])}, "
        f"ECE {decimal(report['calibration']['expected_calibration_error'])}, "
        f"NLL {decimal(report['negative_log_likelihood'])}"
        + (f", tricky reviews {percent(report['tricky_reviews']['accuracy'])}" if report["tricky_reviews"] else "")
        + (
            f", minimal pairs both right {percent(report['minimal_pairs']['consistency'])}"
            if report["minimal_pairs"]
            else ""
        )  # fmt: skip
    )
    logger.info(f"Report: {output_dir / 'evaluation.md'}")
    return report


if __name__ == "__main__":
    main()
