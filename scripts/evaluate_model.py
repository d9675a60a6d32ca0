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
import dataclasses
import sys
from pathlib import Path

from transformers.utils import logging

from evaluation.model_evaluation import SPLITS, EvaluationOptions, evaluate_model, summary_line, training_log_history
from evaluation.report import MINIMAL_PAIRS_FILE, TRICKY_REVIEWS_FILE, write_report
from inference.predictor import BACKEND_HELP, BACKENDS, CHUNK_OVERLAP_HELP, SAVED_READING, chunk_overlap_option
from trainers.arguments import add_dataset_arguments, dataset_source
from trainers.data import DEFAULT_VALIDATION_FRACTION
from trainers.script_logging import setup_logging

logger = logging.get_logger(__name__)


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
    parser.add_argument("--seed", type=int, default=42, help="As in training (its split_seed, if it gave one): it "
                        "chooses the validation split and the --max_samples subset (default: 42).")  # fmt: skip
    parser.add_argument("--max_samples", type=int, help="Evaluate on a seeded random subset of this many reviews.")
    parser.add_argument(
        "--predictions", help="A training run's test_predictions.csv to use instead of running the model on the split."
    )
    parser.add_argument("--batch_size", type=int, default=32, help="Reviews per forward pass (default: 32).")
    parser.add_argument("--chunk_overlap", type=chunk_overlap_option, default=SAVED_READING, metavar="TOKENS|none|saved",
                        help=CHUNK_OVERLAP_HELP)  # fmt: skip
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


def main(args: list[str] | None = None) -> dict:
    arguments = parse_arguments(args)
    setup_logging()
    options = EvaluationOptions(
        **{field.name: getattr(arguments, field.name) for field in dataclasses.fields(EvaluationOptions)}
    )
    try:
        report = evaluate_model(arguments.model, dataset_source(arguments), options)
    except (ValueError, OSError) as error:  # OSError: a tricky-reviews, pairs or predictions file that cannot be read
        sys.exit(f"error: {error}")
    backend_suffix = "" if arguments.backend == "torch" else f"-{arguments.backend}"
    output_dir = Path(
        arguments.output_dir
        or Path("outputs/evaluation") / f"{Path(arguments.model).name}-{arguments.split}{backend_suffix}"
    )
    write_report(
        report, output_dir, title=Path(arguments.model).name, log_history=training_log_history(arguments.model)
    )
    print(summary_line(report))
    logger.info(f"Report: {output_dir / 'evaluation.md'}")
    return report


if __name__ == "__main__":
    main()
