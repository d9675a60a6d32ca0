"""Tables of finished run folders, from what each run recorded (`all_results.json`, `training_recipe.yaml`): what
`scripts/results.py` prints for the README and docs/results.md, so that their figures come from a command.

Rows are groups of runs (a recipe's seeds); each figure is the mean ± standard deviation over the group's runs.
"""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trainers.run_folder import is_finished, read_results, read_run

# What the folder a classifier started from (`pretrained_model_name_or_path`) cost to make, when it is a run folder.
PRETRAINING_KEY = "pretrained_model_name_or_path"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str  # as `format_value` shows it


def format_value(kind: str, mean: float | None, std: float | None) -> str:
    if mean is None:
        return "—"
    scale, pattern = {
        "percent": (100, "{:.2f}"),
        "decimal4": (1, "{:.4f}"),
        "decimal1": (1, "{:,.1f}"),
        "count": (1, "{:,.0f}"),
    }[kind]
    text = pattern.format(scale * mean)
    return text if std is None else f"{text} ± {pattern.format(scale * std)}"


TABLES = {
    "accuracy": (
        Column("test_accuracy", "test accuracy", "percent"),
        Column("eval_accuracy", "validation accuracy", "percent"),
        Column("train_minutes", "training (min)", "decimal1"),
        Column("pretraining_minutes", "pretraining (min)", "decimal1"),
        Column("epochs", "epochs run", "decimal1"),
    ),
    "calibration": (
        Column("calibration_temperature", "T", "decimal4"),
        Column("eval_ece_before_calibration", "validation ECE before", "decimal4"),
        Column("eval_ece_after_calibration", "validation ECE after", "decimal4"),
        Column("test_ece_before_calibration", "test ECE before", "decimal4"),
        Column("test_ece_after_calibration", "test ECE after", "decimal4"),
        Column("test_nll_before_calibration", "test NLL before", "decimal4"),
        Column("test_nll_after_calibration", "test NLL after", "decimal4"),
    ),
}


def run_figures(folder: str | Path) -> dict:
    """The figures of one finished run: its results, its training minutes, and the minutes of the pretraining folder
    it started from (0 when it started from none; None when that folder is not a run folder here)."""
    if not is_finished(folder):
        raise ValueError(f"{folder} is not a finished run folder (no all_results.json and test predictions).")
    _, results, recipe = read_run(folder)
    figures = dict(results)
    figures["train_minutes"] = results["train_runtime_seconds"] / 60
    pretrained = recipe.get(PRETRAINING_KEY)
    figures["pretraining_minutes"] = 0.0
    if pretrained:
        pretraining = read_results(pretrained) if Path(pretrained).is_dir() else {}
        seconds = pretraining.get("train_runtime_seconds")
        figures["pretraining_minutes"] = None if seconds is None else seconds / 60
    return figures


def summarize_group(folders: Sequence[str | Path], columns: Sequence[Column]) -> dict:
    """Mean and standard deviation (None for one run) of each column over the group's runs, and each run's value."""
    runs = [run_figures(folder) for folder in folders]
    summary = {"runs": len(runs), "folders": [str(folder) for folder in folders]}
    for column in columns:
        values = [run.get(column.key) for run in runs]
        present = [value for value in values if value is not None]
        summary[column.key] = {
            "mean": statistics.fmean(present) if present else None,
            "std": statistics.stdev(present) if len(present) > 1 else None,
            "values": values,
        }
    return summary


def results_table(groups: dict[str, Sequence[str | Path]], table: str) -> dict:
    """`{label: summary}` for the columns of `TABLES[table]`."""
    if table not in TABLES:
        raise ValueError(f"Unknown table {table!r}; choose one of {sorted(TABLES)}.")
    if not groups:
        raise ValueError("Name at least one group of runs: --runs LABEL FOLDER [FOLDER ...].")
    return {label: summarize_group(folders, TABLES[table]) for label, folders in groups.items()}


def results_markdown(summaries: dict[str, dict], table: str) -> str:
    columns = [
        column
        for column in TABLES[table]
        if any(summary[column.key]["mean"] is not None for summary in summaries.values())
    ]
    headers = ["runs", "n", *(column.header for column in columns)]
    lines = ["| " + " | ".join(headers) + " |", "| --- |" + " ---: |" * (len(headers) - 1)]
    for label, summary in summaries.items():
        cells = [label, str(summary["runs"])]
        cells += [
            format_value(column.kind, summary[column.key]["mean"], summary[column.key]["std"]) for column in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
