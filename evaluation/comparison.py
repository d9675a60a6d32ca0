"""Comparing approaches on the same split: what `scripts/compare.py` runs and tabulates.

Each approach is trained by its own script (a real subprocess, as a user would run it) into a run folder, once per
seed; a run folder is reused when the command that made it and the recipes it read were the same. Every run is then measured the same way:
accuracy, F1 and ROC-AUC from the class probabilities it saved for the test split (checked to be this split's
reviews), pair consistency on the project's minimal pairs (both sides right), parameters and training time from its
`all_results.json`, inference speed by loading the folder through the Auto classes and labelling the same sample of
test reviews, and its size on disk. The baselines (TF-IDF, NBSVM: `baseline.BASELINES`) are trained in process.
Several seeds give each figure as mean ± standard deviation.
"""

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import DatasetDict
from transformers.utils import logging

from inference.labels import match_labels, to_dataset_classes
from inference.predictor import SentimentPredictor, load_predictor, parse_model_specs
from models import VerbalizerConfig
from trainers.approaches import APPROACHES
from trainers.arguments import dataset_command_line, read_recipe_file
from trainers.data import DEFAULT_VALIDATION_FRACTION, class_names, load_sentiment_splits
from trainers.run_folder import CONFIG_FILE, TEST_PREDICTIONS_FILE, is_finished, read_predictions, read_results

from .baselines import BASELINES, train_baseline
from .report import classification_metrics, load_minimal_pairs, score_hard_cases
from .run_tables import format_value

logger = logging.get_logger(__name__)

COMMAND_FILE = "compare_command.json"
VERBALIZER_MODEL_TYPE = VerbalizerConfig.model_type
# Reviews per batch when measuring inference speed (the default of scripts/predict.py).
SPEED_BATCH_SIZE = 32
# (key, header, how to show a value); keys are those of `measure_*`'s rows.
COLUMNS = (
    ("accuracy", "accuracy", "percent"),
    ("f1", "F1", "percent"),
    ("roc_auc", "ROC-AUC", "decimal4"),
    ("pair_consistency", "pair consistency", "percent"),
    ("num_trainable_parameters", "trainable params", "count"),
    ("num_parameters", "total params", "count"),
    ("train_seconds", "training time (s)", "decimal1"),
    ("reviews_per_second", "inference reviews/s", "decimal1"),
    ("size_mb", "size on disk (MB)", "decimal1"),
)
# A column a summary lacks (a comparison.json written before the column existed) shows as "—".
NO_VALUE = {"mean": None, "std": None}


PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The classifiers of the registry (not word vectors or a language model), then the baselines, trained in process.
TRAINED = [name for name, approach in APPROACHES.items() if approach.classifier]
CHOICES = TRAINED + list(BASELINES)
# NBSVM keeps every n-gram (4.7M on IMDB's training reviews, 2.5 GB at its peak): compared only when asked.
DEFAULT_CHOICES = [name for name in TRAINED if APPROACHES[name].compared_by_default] + ["tfidf"]


@dataclass
class Row:
    """One row of the comparison: a training script (its path) with its recipes (a later one overrides an earlier
    one) and extra arguments, or a baseline of `baseline.BASELINES` (by its name, `script=None`), or a folder already
    trained (`folder`)."""

    name: str
    script: str | None = None
    recipes: list[str] = field(default_factory=list)
    extra_args: list[str] = field(default_factory=list)
    folder: str | None = None


def training_command(approach: Row, data_args: list[str], seed: int, output_dir: Path) -> list[str]:
    return [
        sys.executable, approach.script, *approach.recipes, *data_args, *approach.extra_args,
        "--seed", str(seed), "--output_dir", str(output_dir),
    ]  # fmt: skip


def run_record(approach: Row, command: list[str]) -> dict:
    """What makes a run: its command and what its recipe files said (a recipe edited since is another run)."""
    return {"command": command[1:], "recipes": [read_recipe_file(Path(recipe)) for recipe in approach.recipes]}


def train_run(approach: Row, data_args: list[str], seed: int, output_dir: Path) -> Path:
    """Trains one seed of `approach` into `output_dir` (its script's own output, progress bars included, goes to the
    console), unless the folder holds a finished run of the very same command and recipes."""
    command = training_command(approach, data_args, seed, output_dir)
    record = run_record(approach, command)
    record_file = output_dir / COMMAND_FILE
    if is_finished(output_dir) and record_file.is_file() and json.loads(record_file.read_text()) == record:
        logger.info(f"{approach.name}, seed {seed}: reusing {output_dir}")
        return output_dir
    logger.info(f"{approach.name}, seed {seed}: {' '.join(command[1:])}")
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"Training {approach.name} (seed {seed}) failed with exit code {completed.returncode}.")
    record_file.write_text(json.dumps(record) + "\n")
    return output_dir


def folder_size_mb(folder: Path) -> float:
    """Megabytes of the folder's weight files (what a user downloads to run it)."""
    return sum(path.stat().st_size for path in folder.glob("*.safetensors")) / 1e6


def inference_speed(predictor: SentimentPredictor, texts: Sequence[str]) -> float:
    """Reviews per second labelling `texts` with a folder loaded as a user would, after one warm-up batch."""
    predictor.predict_probabilities(texts[:SPEED_BATCH_SIZE], SPEED_BATCH_SIZE)
    started = time.perf_counter()
    predictor.predict_probabilities(texts, SPEED_BATCH_SIZE)
    return len(texts) / (time.perf_counter() - started)


def pair_consistency(predict_probabilities: Callable[[list[str]], np.ndarray], model_labels: Sequence[str]):
    """The share of the project's minimal pairs whose original and edit the model both labels right; None for a
    model whose classes are not negative and positive."""
    pairs = score_hard_cases(predict_probabilities, model_labels, pairs=load_minimal_pairs())["minimal_pairs"]
    return pairs["consistency"] if pairs else None


def test_probabilities(folder: Path, splits: DatasetDict, device: str) -> tuple:
    """The folder's test probabilities over the dataset's classes (its labels matched by name), and where they come
    from: the run's saved predictions when they are for this test split's reviews, else the folder's model run over
    the split."""
    test_labels, dataset_classes = np.asarray(splits["test"]["label"]), class_names(splits)
    predictions_file = folder / TEST_PREDICTIONS_FILE
    if predictions_file.is_file():
        saved_labels, probabilities, model_labels = read_predictions(predictions_file)
        if np.array_equal(saved_labels, test_labels):
            mapping = match_labels(model_labels, dataset_classes)
            return to_dataset_classes(probabilities, mapping, len(dataset_classes)), "saved predictions"
    predictor = load_predictor("model", str(folder), device)
    mapping = match_labels(predictor.labels, dataset_classes)
    probabilities = predictor.predict_probabilities(list(splits["test"]["text"]), show_progress=True)
    return to_dataset_classes(probabilities, mapping, len(dataset_classes)), "model run over the test split"


def training_seconds(results: dict) -> float:
    """Training wall time: the `Trainer` run, plus the encoding of the training and validation reviews for a
    verbalizer (its features are part of training; test encoding is not)."""
    encoding = sum(results.get(f"{split}_encoding_seconds", 0.0) for split in ("train", "validation"))
    return results["train_runtime_seconds"] + encoding


def is_verbalizer(folder: Path) -> bool:
    config_file = folder / CONFIG_FILE
    return config_file.is_file() and json.loads(config_file.read_text()).get("model_type") == VERBALIZER_MODEL_TYPE


def measure_folder(folder: Path, splits: DatasetDict, speed_texts: Sequence[str], device: str) -> dict:
    """One run's row: metrics on the test split, parameters, training time, speed and size."""
    results = read_results(folder)
    labels = np.asarray(splits["test"]["label"])
    probabilities, source = test_probabilities(folder, splits, device)
    metrics = classification_metrics(labels, probabilities, class_names(splits))
    predictor = load_predictor("model", str(folder), device)
    return {
        "folder": str(folder),
        "predictions": source,
        "test_samples": len(labels),
        "train_samples": results.get("train_samples"),
        "accuracy": metrics["accuracy"],
        "f1": metrics["f1"],
        "roc_auc": metrics["roc_auc"],
        "pair_consistency": pair_consistency(predictor.predict_probabilities, predictor.labels),
        "num_parameters": results.get("num_parameters"),
        "num_trainable_parameters": results.get("num_trainable_parameters"),
        "train_seconds": training_seconds(results) if results else None,
        # A verbalizer whose training features came from the cache did not pay for encoding them in this run.
        "cached_features": is_verbalizer(folder) and "train_encoding_seconds" not in results,
        "reviews_per_second": inference_speed(predictor, speed_texts),
        "size_mb": folder_size_mb(folder),
    }


def measure_baseline(name: str, splits: DatasetDict, speed_texts: Sequence[str]) -> dict:
    """A baseline's row (`name` of `baseline.BASELINES`): trained on the same train split and its C chosen on the same
    validation split as every other row, then run once over the test split."""
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    pipeline, results = train_baseline(name, train["text"], train["label"], validation["text"], validation["label"])
    labels = np.asarray(test["label"])
    metrics = classification_metrics(labels, pipeline.predict_proba(list(test["text"])), class_names(splits))
    started = time.perf_counter()
    pipeline.predict_proba(list(speed_texts))
    speed = len(speed_texts) / (time.perf_counter() - started)
    logger.info(f"{name}: C={results['chosen_c']} chosen on validation {results['validation_accuracy_by_c']}")
    return {
        "folder": None,
        "predictions": "in process",
        "test_samples": len(labels),
        "train_samples": results["train_samples"],
        "accuracy": metrics["accuracy"],
        "f1": metrics["f1"],
        "roc_auc": metrics["roc_auc"],
        # The classifier's columns are the dataset's classes, in label order.
        "pair_consistency": pair_consistency(pipeline.predict_proba, class_names(splits)),
        "num_parameters": results["num_parameters"],
        "num_trainable_parameters": results["num_trainable_parameters"],
        "train_seconds": results["train_runtime_seconds"],
        "cached_features": False,
        "reviews_per_second": speed,
        "size_mb": None,
        "chosen_c": results["chosen_c"],
        "validation_accuracy_by_c": results["validation_accuracy_by_c"],
    }


def planned_rows(
    approaches: Sequence[str],
    recipes: Sequence[str] = (),
    base_models: Sequence[str] = (),
    lstm_variants: Sequence[str] = (),
    models: Sequence[str] = (),
) -> list[Row]:
    """The rows to train, in table order (`approaches`: names of the registry's classifiers or of the baselines), then
    the folders trained elsewhere (`models`, NAME=FOLDER). `recipes` (NAME=FILE) replace an approach's default recipe,
    `base_models` (NAME=MODEL) the model it starts from; each of `lstm_variants` (overlays on the lstm recipe) is one
    more row. A ValueError names what cannot be planned."""
    recipes = named_values(recipes, "--recipe", TRAINED)
    base_models = named_values(base_models, "--base_model", [
        name for name in TRAINED if APPROACHES[name].base_model_key
    ])  # fmt: skip
    rows = []
    for name in approaches:
        if name in BASELINES:
            rows.append(Row(name))
            continue
        approach = APPROACHES[name]
        recipe = recipes.get(name, str(PROJECT_ROOT / approach.recipe))
        if not Path(recipe).is_file():
            raise ValueError(f"The recipe of {name}, {recipe}, does not exist.")
        extra = [f"--{approach.base_model_key}", base_models[name]] if name in base_models else []
        if approach.base_model_key and not extra and not recipe_value(recipe, approach.base_model_key):
            raise ValueError(f"{name} needs the model it starts from: --base_model {name}=MODEL.")
        rows.append(Row(name, str(PROJECT_ROOT / approach.script), [recipe], extra))
        if name == "lstm":
            rows += [Row(Path(variant).stem, rows[-1].script, [recipe, variant]) for variant in lstm_variants]
    for name, folder in parse_model_specs(models).items() if models else ():
        if not Path(folder).is_dir():
            raise ValueError(f"--model {name}={folder}: no such folder.")
        rows.append(Row(name, folder=folder))
    names = [row.name for row in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"Two rows would share a name: {names}.")
    for row in rows:
        for recipe in row.recipes:
            if not Path(recipe).is_file():
                raise ValueError(f"The recipe of {row.name}, {recipe}, does not exist.")
    return rows


def named_values(specs: list[str], option: str, names: list[str]) -> dict[str, str]:
    """`NAME=VALUE` items of `option`, each NAME one of `names`."""
    values = parse_model_specs(specs) if specs else {}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{option} {', '.join(unknown)}: not one of {', '.join(names)}.")
    return values


def recipe_value(recipe: str, key: str):
    """The value a recipe file (with the recipes it extends) sets for `key`, if it sets one."""
    return read_recipe_file(Path(recipe)).get(key)


def run_comparison(
    planned: Sequence[Row],
    source,
    sizes: dict,
    seeds: Sequence[int],
    output_dir: Path,
    speed_samples: int = 500,
    device: str = "cpu",
) -> dict:
    """Trains (or reuses) each planned row's run for every seed, on the split that seed makes, and measures it: the
    report's data, its rows under `runs` and their mean ± std under `summary`. The split every approach of a seed
    trains, validates and tests on is the one the training scripts make with the same settings."""
    data_args = dataset_command_line(source) + ["--validation_fraction", str(DEFAULT_VALIDATION_FRACTION)]
    data_args += [item for name, value in sizes.items() for item in (f"--{name}", str(value))]
    rows: dict[str, list[dict]] = {row.name: [] for row in planned}
    for seed in seeds:
        splits = load_sentiment_splits(source, validation_fraction=DEFAULT_VALIDATION_FRACTION, seed=seed, **sizes)
        speed_texts = list(splits["test"]["text"][:speed_samples])
        validation_split = str(splits["validation"].split)
        for planned_row in planned:
            if planned_row.folder and seed != seeds[0]:
                continue  # a folder trained elsewhere is one run
            if planned_row.script is None and planned_row.folder is None:
                row = measure_baseline(planned_row.name, splits, speed_texts)
            else:
                folder = Path(planned_row.folder) if planned_row.folder else train_run(
                    planned_row, data_args, seed, output_dir / "runs" / planned_row.name / f"seed-{seed}"
                )  # fmt: skip
                row = measure_folder(folder, splits, speed_texts, device)
            rows[planned_row.name].append({"seed": seed, **row})
            logger.info(f"{planned_row.name}, seed {seed}: test accuracy {row['accuracy']:.4f}")
    return {
        "dataset": source.describe(), "sizes": sizes, "seeds": list(seeds),
        # The dataset's own validation split, if it has one; None when validation was carved from train.
        "validation_split": None if validation_split == source.train_split_name else validation_split,
        "device": device, "torch_threads": torch.get_num_threads(), "speed_samples": len(speed_texts),
        "summary": {name: summarize(runs) for name, runs in rows.items()}, "runs": rows,
    }  # fmt: skip


def write_comparison(report: dict, output_dir: Path) -> str:
    """Writes `comparison.json` and `comparison.md` into `output_dir`; returns the Markdown."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = comparison_markdown(report)
    (output_dir / "comparison.md").write_text(markdown)
    return markdown


def summarize(rows: Sequence[dict]) -> dict:
    """Mean and standard deviation (over seeds; `None` for one run) of each column, and the runs' common facts."""
    summary = {"runs": len(rows), "train_samples": rows[0]["train_samples"], "test_samples": rows[0]["test_samples"]}
    for key, _, _ in COLUMNS:
        values = [row[key] for row in rows if row[key] is not None]
        summary[key] = {
            "mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else None,
        }
    summary["cached_features"] = any(row["cached_features"] for row in rows)
    return summary


def markdown_table(summaries: dict[str, dict]) -> str:
    """One row per approach, the columns of `COLUMNS`, figures as mean ± std over seeds."""
    headers = ["approach", "train reviews", "test reviews", "seeds"] + [header for _, header, _ in COLUMNS]
    lines = ["| " + " | ".join(headers) + " |", "|---|" + "---:|" * (len(headers) - 1)]
    for name, summary in summaries.items():
        marked = f"{name}*" if summary["cached_features"] else name
        train = "—" if summary["train_samples"] is None else f"{summary['train_samples']:,}"
        cells = [marked, train, f"{summary['test_samples']:,}", str(summary["runs"])]
        cells += [format_value(kind, **summary.get(key, NO_VALUE)) for key, _, kind in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    if any(summary["cached_features"] for summary in summaries.values()):
        lines.append("")
        lines.append("\\* training features read from the cache of an earlier run: encoding time not included.")
    return "\n".join(lines) + "\n"


def comparison_markdown(report: dict) -> str:
    """The comparison as `scripts/compare.py` writes it to `comparison.md` (and model cards quote it): the setting,
    the command that made it, then the table."""
    sizes = ", ".join(f"{name}={value}" for name, value in report["sizes"].items()) or "all reviews"
    # Comparisons written before datasets other than IMDB could be compared carved validation from train.
    own_split = report.get("validation_split")
    validation = f"the dataset's '{own_split}' split" if own_split else "10% of the training reviews"
    if report.get("dataset"):
        sizes = f"{report['dataset']}, {sizes}"
    return (
        f"Setting: {report['setting']} ({sizes}), seeds {report['seeds']}, validation {validation}; "
        f"speed on {report['device']} with {report['torch_threads']} threads over {report['speed_samples']} test "
        f"reviews.\n\nMade by: `{report['command']}`\n\n" + markdown_table(report["summary"])
    )


def read_comparison(path: str | Path) -> dict:
    """A `comparison.json` written by `scripts/compare.py`, refused with a `ValueError` if it is not one."""
    report = json.loads(Path(path).read_text())
    expected = {"setting", "sizes", "seeds", "device", "torch_threads", "speed_samples", "command", "summary"}
    if not isinstance(report, dict) or not expected <= set(report):
        raise ValueError(f"{path} is not a comparison.json written by scripts/compare.py.")
    return report
