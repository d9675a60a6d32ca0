"""Measuring a sentiment classifier on labelled reviews: what `scripts/evaluate_model.py` and `scripts/compare.py` share.

Everything is computed from three things: the true labels, the class probabilities the model gave, and the review
texts. `evaluation_report` gathers the metrics (accuracy, per-class precision/recall/F1, ROC-AUC, the confusion
matrix), calibration (expected calibration error over confidence bins), accuracy by review length and the most
confident errors; `write_report` writes them as JSON, a Markdown report and PNG plots.

A model's own labels ("LABEL_1", "pos", "POSITIVE"...) are matched to the dataset's by `match_labels`, so any Hub
text classifier can be measured, not only ours.
"""

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # not pyplot: no global state, no display backend, files only
from sklearn.metrics import confusion_matrix, roc_auc_score

from .metrics import class_scores, label_metrics

TRICKY_REVIEWS_FILE = Path(__file__).parent / "tricky_reviews.jsonl"
# The classes the tricky reviews are labelled with; a model's own labels are matched to them by name.
TRICKY_REVIEW_CLASSES = ("NEGATIVE", "POSITIVE")
# Review lengths in words where the length buckets start: IMDB's median review is about 175 words.
LENGTH_BUCKET_STARTS = (0, 100, 200, 400, 800)
REPORT_JSON = "evaluation.json"
REPORT_MARKDOWN = "evaluation.md"
PLOT_FILES = {
    "confusion_matrix": "confusion_matrix.png",
    "reliability_diagram": "reliability_diagram.png",
    "confidence_histogram": "confidence_histogram.png",
    "training_curves": "training_curves.png",
}
# Characters of a review's text quoted in the Markdown report (the JSON keeps it whole).
QUOTED_CHARACTERS = 400


def match_labels(
    model_labels: Sequence[str], dataset_labels: Sequence[str], explicit: Mapping[str, str] = {}
) -> list[int]:
    """The dataset class of each of the model's labels, in the model's label order.

    A label maps to a dataset label through `explicit` first, then by name ignoring case, by prefix either way
    (IMDB's "pos" and SST-2's "positive"), or as `LABEL_<index>` (the default names of an unnamed head). Raises
    `ValueError` naming the labels that match nothing, so that no model is scored through a guessed mapping.
    """
    lowered = [name.lower() for name in dataset_labels]
    unknown_targets = sorted(set(explicit.values()) - set(dataset_labels))
    if unknown_targets:
        raise ValueError(
            f"--label_map names dataset labels {unknown_targets}; the dataset's are {list(dataset_labels)}."
        )
    mapping = []
    for label in model_labels:
        name = label.lower()
        default_index = re.fullmatch(r"label_(\d+)", name)
        if label in explicit:
            mapping.append(list(dataset_labels).index(explicit[label]))
        elif name in lowered:
            mapping.append(lowered.index(name))
        elif len(prefixed := [index for index, target in enumerate(lowered) if is_prefix_match(name, target)]) == 1:
            mapping.append(prefixed[0])
        elif default_index and int(default_index.group(1)) < len(dataset_labels):
            mapping.append(int(default_index.group(1)))
        else:
            raise ValueError(
                f"Cannot tell which dataset label ({list(dataset_labels)}) the model's label {label!r} means "
                f"(the model's labels: {list(model_labels)}); say it with --label_map {label}=DATASET_LABEL."
            )
    missing = sorted(set(range(len(dataset_labels))) - set(mapping))
    if missing:
        raise ValueError(
            f"No label of the model ({list(model_labels)}) maps to {[dataset_labels[i] for i in missing]}; "
            "say which with --label_map MODEL_LABEL=DATASET_LABEL."
        )
    return mapping


def is_prefix_match(name: str, target: str) -> bool:
    """Whether one label name starts the other, the shorter of three letters at least ("neg", "negative")."""
    shorter, longer = sorted((name, target), key=len)
    return len(shorter) >= 3 and longer.startswith(shorter)


def to_dataset_classes(model_probabilities: np.ndarray, mapping: Sequence[int], num_classes: int) -> np.ndarray:
    """Probabilities over the dataset's classes: each model label's probability added to its dataset class."""
    probabilities = np.zeros((len(model_probabilities), num_classes))
    for model_index, dataset_index in enumerate(mapping):
        probabilities[:, dataset_index] += model_probabilities[:, model_index]
    return probabilities


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, label_names: Sequence[str]) -> dict:
    """Accuracy, F1 (of the positive class, the last, for two classes; the macro average for more), macro F1,
    ROC-AUC, per-class metrics, confusion matrix.

    ROC-AUC is over the positive class's probability, and `None` when the labels hold one class only or there are
    more than two classes.
    """
    labels = np.asarray(labels)
    predictions = probabilities.argmax(axis=1)
    classes = list(range(len(label_names)))
    precision, recall, f1, support = class_scores(labels, predictions, len(classes))
    per_class = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(label_names, precision, recall, f1, support)
    }
    binary = len(label_names) == 2 and len(set(labels.tolist())) == 2
    headline = label_metrics(labels, predictions, len(classes))
    return {
        "samples": len(labels),
        "accuracy": headline["accuracy"],
        "f1": headline["f1"],
        "macro_f1": float(f1.mean()),
        "roc_auc": float(roc_auc_score(labels, probabilities[:, -1])) if binary else None,
        "per_class": per_class,
        # Rows are true labels, columns predicted labels, both in `label_names` order.
        "confusion_matrix": confusion_matrix(labels, predictions, labels=classes).tolist(),
    }


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> dict:
    """Expected calibration error over `bins` equal-width bins of confidence (the top probability), and the bins.

    ECE is the mean over reviews of |accuracy - confidence| of their bin: 0 when a model that says 80% is right
    80% of the time.
    """
    if bins < 1:
        raise ValueError(f"The number of calibration bins must be at least 1, got {bins}.")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds confidences in (edges[i], edges[i + 1]]; a confidence of exactly 0 joins the first bin.
    bin_of = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    table, error = [], 0.0
    for index in range(bins):
        members = bin_of == index
        count = int(members.sum())
        entry = {"lower": float(edges[index]), "upper": float(edges[index + 1]), "count": count}
        if count:
            entry["mean_confidence"] = float(confidence[members].mean())
            entry["accuracy"] = float(correct[members].mean())
            error += count * abs(entry["accuracy"] - entry["mean_confidence"])
        table.append(entry)
    return {"expected_calibration_error": error / len(confidence), "bins": table}


def word_count(text: str) -> int:
    return len(text.split())


def accuracy_by_length(
    labels: np.ndarray, probabilities: np.ndarray, texts: Sequence[str], starts: Sequence[int] = LENGTH_BUCKET_STARTS
) -> list[dict]:
    """Reviews, errors and accuracy per length bucket (in words), buckets starting at `starts`."""
    lengths = np.array([word_count(text) for text in texts])
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    buckets = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else None
        members = (lengths >= start) & (lengths < end if end is not None else True)
        count = int(members.sum())
        buckets.append({
            "words": f"{start}-{end - 1}" if end is not None else f"{start}+",
            "count": count,
            "errors": int(count - correct[members].sum()),
            "accuracy": float(correct[members].mean()) if count else None,
        })  # fmt: skip
    return buckets


def confident_errors(
    labels: np.ndarray,
    probabilities: np.ndarray,
    texts: Sequence[str],
    label_names: Sequence[str],
    count: int = 10,
) -> list[dict]:
    """The `count` wrong predictions made with the highest confidence, most confident first, with their text."""
    predictions = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    wrong = np.flatnonzero(predictions != np.asarray(labels))
    ranked = wrong[np.argsort(-confidence[wrong], kind="stable")][:count]
    return [
        {
            "index": int(index),
            "label": label_names[labels[index]],
            "predicted": label_names[predictions[index]],
            "confidence": float(confidence[index]),
            "words": word_count(texts[index]),
            "text": texts[index],
        }
        for index in ranked
    ]


def load_tricky_reviews(path: str | Path = TRICKY_REVIEWS_FILE) -> list[dict]:
    """The tricky-reviews suite: one JSON object per line with `text`, `label` (a dataset label name), `category`."""
    reviews = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        review = json.loads(line)
        if set(review) != {"text", "label", "category"} or review["label"] not in TRICKY_REVIEW_CLASSES:
            raise ValueError(
                f"Line {number} of {path} must have exactly text, label (one of {TRICKY_REVIEW_CLASSES}) and category."
            )
        reviews.append(review)
    return reviews


def tricky_review_results(reviews: Sequence[dict], probabilities: np.ndarray) -> dict:
    """Each tricky review with its prediction (`probabilities` over `TRICKY_REVIEW_CLASSES`), and accuracy overall
    and per category."""
    rows = []
    for review, row_probabilities in zip(reviews, probabilities):
        predicted = TRICKY_REVIEW_CLASSES[int(row_probabilities.argmax())]
        rows.append({
            **review,
            "predicted": predicted,
            "confidence": float(row_probabilities.max()),
            "correct": predicted == review["label"],
        })  # fmt: skip
    categories = {}
    for row in rows:
        categories.setdefault(row["category"], []).append(row["correct"])
    return {
        "accuracy": float(np.mean([row["correct"] for row in rows])),
        "by_category": {name: float(np.mean(results)) for name, results in sorted(categories.items())},
        "reviews": rows,
    }


def evaluation_report(
    labels: np.ndarray,
    probabilities: np.ndarray,
    texts: Sequence[str],
    label_names: Sequence[str],
    calibration_bins: int = 10,
    error_count: int = 10,
) -> dict:
    """All measurements of one model on one labelled split (probabilities over the dataset's classes, `label_names`
    in label order)."""
    labels = np.asarray(labels)
    if len(labels) != len(probabilities) or len(labels) != len(texts):
        raise ValueError(f"{len(labels)} labels, {len(probabilities)} predictions and {len(texts)} texts differ.")
    return {
        **classification_metrics(labels, probabilities, label_names),
        "calibration": calibration(labels, probabilities, calibration_bins),
        "accuracy_by_length": accuracy_by_length(labels, probabilities, texts),
        "confident_errors": confident_errors(labels, probabilities, texts, label_names, error_count),
        # Kept for the confidence histogram; small (two numbers per review).
        "confidences": probabilities.max(axis=1).round(6).tolist(),
        "correct": (probabilities.argmax(axis=1) == labels).tolist(),
    }


def plot_confusion_matrix(matrix: list[list[int]], label_names: Sequence[str], path: Path, title: str) -> None:
    side = 2.5 + len(label_names)  # inches: room for each class's cell and name
    figure = Figure(figsize=(side, side - 0.5))
    axes = figure.subplots()
    values = np.array(matrix)
    axes.imshow(values, cmap="Blues")
    for (row, column), value in np.ndenumerate(values):
        colour = "white" if value > values.max() / 2 else "black"
        axes.text(column, row, f"{value:,}", ha="center", va="center", color=colour)
    axes.set_xticks(range(len(label_names)), label_names)
    axes.set_yticks(range(len(label_names)), label_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    save_figure(figure, path)


def plot_reliability_diagram(calibration_result: dict, path: Path, title: str) -> None:
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.subplots()
    filled = [entry for entry in calibration_result["bins"] if entry["count"]]
    width = filled[0]["upper"] - filled[0]["lower"] if filled else 0.1
    axes.bar(
        [entry["lower"] for entry in filled],
        [entry["accuracy"] for entry in filled],
        width=width,
        align="edge",
        edgecolor="black",
        label="accuracy in bin",
    )
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    ece = calibration_result["expected_calibration_error"]
    axes.set_title(f"{title}\nECE {ece:.4f}")
    axes.legend(loc="upper left")
    save_figure(figure, path)


def plot_confidence_histogram(confidences: Sequence[float], correct: Sequence[bool], path: Path, title: str) -> None:
    figure = Figure(figsize=(5, 3.5))
    axes = figure.subplots()
    confidences, correct = np.asarray(confidences), np.asarray(correct, dtype=bool)
    bins = np.linspace(0.5, 1.0, 26)
    axes.hist(confidences[correct], bins=bins, alpha=0.7, label=f"correct ({correct.sum():,})")
    axes.hist(confidences[~correct], bins=bins, alpha=0.7, label=f"wrong ({(~correct).sum():,})")
    axes.set_yscale("log")
    axes.set_xlabel("confidence (top probability)")
    axes.set_ylabel("reviews")
    axes.set_title(title)
    axes.legend()
    save_figure(figure, path)


def plot_training_curves(log_history: Sequence[dict], path: Path, title: str) -> bool:
    """Training and validation loss by step, and validation accuracy by epoch, from a `trainer_state.json`'s
    `log_history`. Returns False (and writes nothing) when the history has no validation entries."""
    train = [(entry["step"], entry["loss"]) for entry in log_history if "loss" in entry]
    evaluation = [entry for entry in log_history if "eval_loss" in entry]
    if not evaluation:
        return False
    figure = Figure(figsize=(9, 3.5))
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    if train:
        loss_axes.plot(*zip(*train), label="training loss", alpha=0.7)
    loss_axes.plot([entry["step"] for entry in evaluation], [entry["eval_loss"] for entry in evaluation], "o-",
                   label="validation loss")  # fmt: skip
    loss_axes.set_xlabel("step")
    loss_axes.set_ylabel("loss")
    loss_axes.legend()
    if "eval_accuracy" in evaluation[0]:
        accuracy_axes.plot([entry["epoch"] for entry in evaluation], [entry["eval_accuracy"] for entry in evaluation],
                           "o-")  # fmt: skip
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("validation accuracy")
    figure.suptitle(title)
    save_figure(figure, path)
    return True


def save_figure(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def write_report(report: dict, output_dir: str | Path, title: str, log_history: Sequence[dict] | None = None) -> dict:
    """Writes `evaluation.json`, `evaluation.md` and the PNG plots into `output_dir`; returns {plot name: file}."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    plots = {name: output_dir / file for name, file in PLOT_FILES.items()}
    plot_confusion_matrix(report["confusion_matrix"], list(report["per_class"]), plots["confusion_matrix"], title)
    plot_reliability_diagram(report["calibration"], plots["reliability_diagram"], title)
    plot_confidence_histogram(report["confidences"], report["correct"], plots["confidence_histogram"], title)
    if not (log_history and plot_training_curves(log_history, plots["training_curves"], title)):
        del plots["training_curves"]
    (output_dir / REPORT_JSON).write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / REPORT_MARKDOWN).write_text(markdown_report(report, title, plots))
    return plots


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def decimal(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def quoted(text: str) -> str:
    """A review as one Markdown line, cut at `QUOTED_CHARACTERS`."""
    flat = " ".join(text.replace("<br />", " ").split()).replace("|", "\\|")
    return flat if len(flat) <= QUOTED_CHARACTERS else flat[:QUOTED_CHARACTERS] + "…"


def markdown_report(report: dict, title: str, plots: Mapping[str, Path]) -> str:
    """The report as Markdown, images linked by file name (they sit beside it)."""
    lines = [f"# Evaluation: {title}", ""]
    source = report.get("source", {})
    if source:
        lines += [", ".join(f"{key}: {value}" for key, value in source.items()), ""]
    label_names = list(report["per_class"])
    f1_header = "F1 (positive)" if len(label_names) == 2 else "F1 (macro)"
    lines += [
        f"| reviews | accuracy | {f1_header} | macro F1 | ROC-AUC | ECE |",
        "|---:|---:|---:|---:|---:|---:|",
        (
            f"| {report['samples']:,} | {percent(report['accuracy'])} | {percent(report['f1'])} | "
            f"{percent(report['macro_f1'])} | {decimal(report['roc_auc'])} | "
            f"{decimal(report['calibration']['expected_calibration_error'])} |"
        ),
        "",
        "## Per class",
        "",
        "| class | precision | recall | F1 | reviews |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, entry in report["per_class"].items():
        lines.append(
            f"| {name} | {percent(entry['precision'])} | {percent(entry['recall'])} | {percent(entry['f1'])} | "
            f"{entry['support']:,} |"
        )
    lines += ["", "## Confusion matrix (rows: true, columns: predicted)", "", "| | " + " | ".join(label_names) + " |",
              "|---|" + "---:|" * len(label_names)]  # fmt: skip
    for name, row in zip(label_names, report["confusion_matrix"]):
        lines.append(f"| {name} | " + " | ".join(f"{value:,}" for value in row) + " |")
    lines += [
        "",
        "## Accuracy by review length",
        "",
        "| words | reviews | errors | accuracy |",
        "|---|---:|---:|---:|",
    ]
    for bucket in report["accuracy_by_length"]:
        lines.append(
            f"| {bucket['words']} | {bucket['count']:,} | {bucket['errors']:,} | {percent(bucket['accuracy'])} |"
        )
    lines += ["", "## Plots", ""]
    lines += [f"![{name.replace('_', ' ')}]({path.name})" for name, path in plots.items()]
    lines += ["", "## Most confident errors", "", "| confidence | true | predicted | words | review |",
              "|---:|---|---|---:|---|"]  # fmt: skip
    for error in report["confident_errors"]:
        lines.append(
            f"| {error['confidence']:.4f} | {error['label']} | {error['predicted']} | {error['words']} | "
            f"{quoted(error['text'])} |"
        )
    tricky = report.get("tricky_reviews")
    if tricky:
        lines += ["", f"## Tricky reviews: {percent(tricky['accuracy'])} right", "",
                  ", ".join(f"{name} {percent(value)}" for name, value in tricky["by_category"].items()), "",
                  "| category | expected | predicted | confidence | review |", "|---|---|---|---:|---|"]  # fmt: skip
        for row in tricky["reviews"]:
            mark = "" if row["correct"] else " ✗"
            lines.append(
                f"| {row['category']} | {row['label']} | {row['predicted']}{mark} | {row['confidence']:.3f} | "
                f"{quoted(row['text'])} |"
            )
    return "\n".join(lines) + "\n"
