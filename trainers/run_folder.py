"""A training run's folder: the names of its files, and how they are written and read back.

Everything that reads a run folder (the model card, the Hub upload, the comparison, the evaluation) goes through
this module, which needs none of the training machinery.
"""

import json
from pathlib import Path

import numpy as np
import yaml

RESULTS_FILE = "all_results.json"
RECIPE_FILE = "training_recipe.yaml"
# The seed of a run whose recipe records none (`TrainingArguments`' default).
DEFAULT_SEED = 42
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
# Class probabilities of every test review, in the test split's order, with its label: what `scripts/compare.py`
# and `scripts/evaluate_model.py` compute ROC-AUC and calibration from without running the model again.
TEST_PREDICTIONS_FILE = "test_predictions.csv"
# What `config.json` records of temperature scaling (`trainers/calibration.py`): the temperature folded into the
# weights (which marks the model as calibrated) and the validation figures; and the reliability diagram drawn then.
CALIBRATION_TEMPERATURE_KEY = "calibration_temperature"
CALIBRATION_METRICS_KEY = "calibration_metrics"
CALIBRATION_DIAGRAM_FILE = "calibration_reliability_diagram.png"
# Where a run composes its final files until it completes; see `complete_run_folder`.
UNFINISHED_DIR = "unfinished"


def unfinished_folder(output_dir: str | Path) -> Path:
    return Path(output_dir) / UNFINISHED_DIR


def write_recipe(folder: Path, recipe: dict) -> None:
    """`training_recipe.yaml`: the run's arguments, headed by the command that takes them back."""
    # Imported here, not at the top: the registry imports the model builders, whose training machinery imports this
    # module.
    from .approaches import approach_of

    header = f"# The arguments of this run. Re-run it: python {approach_of(recipe).script} {RECIPE_FILE}\n"
    (folder / RECIPE_FILE).write_text(header + yaml.safe_dump(recipe, sort_keys=False))


def recorded_split_seed(recipe: dict) -> int:
    """The seed that carved a run's validation split, as its recipe records it: its split_seed, else its seed."""
    split_seed = recipe.get("split_seed")
    return recipe.get("seed", DEFAULT_SEED) if split_seed is None else split_seed


def write_results(folder: Path, results: dict) -> None:
    (folder / RESULTS_FILE).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def read_results(folder: str | Path) -> dict:
    """The folder's `all_results.json`, or `{}` for a folder trained elsewhere that has none."""
    path = Path(folder) / RESULTS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def is_finished(folder: str | Path) -> bool:
    """Whether a run completed in `folder`: its results (moved in last, see `complete_run_folder`) and predictions."""
    return (Path(folder) / RESULTS_FILE).is_file() and (Path(folder) / TEST_PREDICTIONS_FILE).is_file()


def read_run(folder: str | Path) -> tuple[dict, dict, dict]:
    """The config, results and recipe a training run wrote into `folder`."""
    folder = Path(folder)
    missing = [name for name in (CONFIG_FILE, RESULTS_FILE, RECIPE_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a trained model folder of this project: no {', '.join(missing)}.")
    config = json.loads((folder / CONFIG_FILE).read_text())
    recipe = yaml.safe_load((folder / RECIPE_FILE).read_text())
    return config, read_results(folder), recipe


def complete_run_folder(output_dir: str | Path) -> None:
    """Moves the run's final files from `output_dir/unfinished/` up into `output_dir`, `all_results.json` last.

    Why a staging folder rather than an order of writes: `Trainer.save_model` writes weights, config and tokenizer
    in one call, and the model card is generated from `all_results.json`, so no order of writes into `output_dir`
    keeps every final file out of sight until the run is done. Composed aside, they arrive by renames within one
    file system once training, evaluation and the card are done, and `all_results.json`, which readers take as the
    sign of a finished run (scripts/compare.py, the model card), arrives last. A run killed at any point leaves
    `output_dir` with checkpoints and `unfinished/` only (or, killed while moving, files without
    `all_results.json`); `--resume_from_checkpoint true` then completes it.
    """
    folder, output_dir = unfinished_folder(output_dir), Path(output_dir)
    for path in sorted(folder.iterdir(), key=lambda path: path.name == RESULTS_FILE):
        path.replace(output_dir / path.name)
    folder.rmdir()


def write_predictions(path: Path, labels: np.ndarray, probabilities: np.ndarray, class_names: list[str]) -> None:
    """Writes each row's label and class probabilities as CSV, with a header."""
    header = ",".join(["label", *class_names])
    rows = np.column_stack([labels, probabilities])
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt=["%d"] + ["%.6f"] * probabilities.shape[1])


def read_predictions(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """What `write_predictions` wrote: the labels, the class probabilities and the class names."""
    with open(path) as stream:
        header = stream.readline().strip().split(",")
    if len(header) < 3 or header[0] != "label":
        raise ValueError(f"{path} is not a predictions file: its header should be label,<class>,<class>...")
    rows = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return rows[:, 0].astype(int), rows[:, 1:], header[1:]
