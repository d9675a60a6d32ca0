"""Measuring a sentiment classifier on labelled reviews: what `scripts/evaluate_model.py` and `scripts/compare.py` share.

Everything is computed from three things: the true labels, the class probabilities the model gave, and the review
texts. `evaluation_report` gathers the metrics (accuracy, per-class precision/recall/F1, ROC-AUC, the confusion
matrix), calibration (expected calibration error over confidence bins, negative log-likelihood, and both before a
model's temperature scaling when it has one: see `trainers/calibration.py`), accuracy by review length and the most
confident errors; `write_report` writes them as JSON, a Markdown report and PNG plots.

Two hand-written suites probe what accuracy on a test split hides: the tricky reviews (one review, one expected label)
and the minimal pairs (a review and a minimally edited version of it, each labelled; see `pair_metrics`).
`score_hard_cases` scores a model on both with one call of its predict function.

A model's own labels ("LABEL_1", "pos", "POSITIVE"...) are matched to the dataset's by `inference.labels.match_labels`,
so any Hub text classifier can be measured, not only ours.
"""

import csv
import difflib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # not pyplot: no global state, no display backend, files only
from sklearn.metrics import confusion_matrix, roc_auc_score
from transformers.utils import logging

from inference.labels import is_prefix_match, match_labels, to_dataset_classes
from trainers.figures import plot_reliability_diagram, save_figure
from trainers.metrics import calibration, class_scores, label_metrics

logger = logging.get_logger(__name__)

TRICKY_REVIEWS_FILE = Path(__file__).parent / "tricky_reviews.jsonl"
# The classes the tricky reviews and the minimal pairs are labelled with; a model's own labels are matched to them by
# name.
TRICKY_REVIEW_CLASSES = ("NEGATIVE", "POSITIVE")
MINIMAL_PAIRS_FILE = Path(__file__).parent / "minimal_pairs.jsonl"
# The columns every minimal-pairs file has; `phenomenon` (what the edit does) may be left out, others are ignored.
PAIR_COLUMNS = ("original", "original_label", "edited", "edited_label")
PAIR_FILE_HELP = (
    "a pairs file has the columns original, original_label, edited, edited_label (and optionally phenomenon)"
)
# The phenomenon of a pair whose file names none.
UNNAMED_PHENOMENON = "other"
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
# The negative log-likelihood counts a probability below this as this: a training run's predictions file keeps six
# decimals, so the same reviews give the same figure from the file and from the model.
PROBABILITY_FLOOR = 1e-7


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


def negative_log_likelihood(labels: np.ndarray, probabilities: np.ndarray, floor: float = PROBABILITY_FLOOR) -> float:
    """The mean of -log(probability of the true class), each probability taken as `floor` at least."""
    true_class = np.asarray(probabilities, dtype=np.float64)[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.log(np.maximum(true_class, floor)).mean())


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
        "count": len(rows),
        "accuracy": float(np.mean([row["correct"] for row in rows])),
        "by_category": {name: float(np.mean(results)) for name, results in sorted(categories.items())},
        "reviews": rows,
    }


def load_minimal_pairs(path: str | Path = MINIMAL_PAIRS_FILE) -> list[dict]:
    """Minimal pairs, from CSV (a header row, then one pair a row) or JSON Lines (`.jsonl` or `.json`, one object a
    line): `original`, `original_label`, `edited`, `edited_label` and optionally `phenomenon`; other columns are
    ignored. A label is one of `TRICKY_REVIEW_CLASSES` in any case, or a name one of them starts ("neg", "pos").

    Raises `ValueError`, in one line naming the file (and the line), for missing columns, an unknown label, an empty
    text, an original equal to its edit, a line that is not a JSON object, or a file with no pairs.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".json"):
        raise ValueError(f"{path}: a pairs file is CSV (.csv) or JSON Lines (.jsonl), not '{suffix or 'no suffix'}'.")
    text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's CSV may begin with a byte-order mark
    rows = _csv_rows(text, path) if suffix == ".csv" else _jsonl_rows(text, path)
    pairs = [_minimal_pair(row, f"line {line} of {path}") for line, row in rows]
    if not pairs:
        raise ValueError(f"{path} holds no pairs: {PAIR_FILE_HELP}.")
    return pairs


def _csv_rows(text: str, path: Path) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        # An empty file has no header: it holds no pairs, which the caller says.
        missing = [column for column in PAIR_COLUMNS if column not in (reader.fieldnames or PAIR_COLUMNS)]
        if missing:
            raise ValueError(f"{path} has no column {', '.join(missing)} (its columns: {reader.fieldnames}): "
                             f"{PAIR_FILE_HELP}.")  # fmt: skip
        return [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise ValueError(f"{path} is not readable as CSV (line {reader.line_num}): {error}.") from error


def _jsonl_rows(text: str, path: Path) -> list[tuple[int, dict]]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"Line {number} of {path} is not valid JSON: {error.msg}.") from error
        if not isinstance(row, dict):
            raise ValueError(f"Line {number} of {path} is not a JSON object: {PAIR_FILE_HELP}.")
        rows.append((number, row))
    return rows


def _minimal_pair(row: dict, where: str) -> dict:
    missing = [column for column in PAIR_COLUMNS if column not in row]
    if missing:
        raise ValueError(f"{where[0].upper()}{where[1:]} has no {', '.join(missing)}: {PAIR_FILE_HELP}.")
    pair = {}
    for side in ("original", "edited"):
        text = row[side]
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"The {side} text on {where} is empty.")
        pair[side] = text
        pair[f"{side}_label"] = pair_label(row[f"{side}_label"], where)
    if pair["original"].strip() == pair["edited"].strip():
        raise ValueError(f"The original and the edited text on {where} are the same: a pair needs an edit.")
    pair["phenomenon"] = str(row.get("phenomenon") or UNNAMED_PHENOMENON)
    return pair


def pair_label(value, where: str) -> str:
    """The class of `TRICKY_REVIEW_CLASSES` a pair's label names (any case, or a name one starts: "neg", "pos")."""
    if isinstance(value, str):
        name = value.strip().lower()
        for label in TRICKY_REVIEW_CLASSES:
            if name == label.lower() or is_prefix_match(name, label.lower()):
                return label
    raise ValueError(
        f"Unknown label {value!r} on {where}: a label is one of {', '.join(TRICKY_REVIEW_CLASSES)} (any case; "
        "neg and pos too)."
    )


def minimal_pair_results(
    pairs: Sequence[dict], original_probabilities: np.ndarray, edited_probabilities: np.ndarray
) -> dict:
    """Each pair with the model's label and confidence on both sides, and `pair_metrics` over all pairs and per
    phenomenon (probabilities over `TRICKY_REVIEW_CLASSES`, one row per pair on each side)."""
    if not len(pairs) == len(original_probabilities) == len(edited_probabilities):
        raise ValueError(
            f"{len(pairs)} pairs, {len(original_probabilities)} and {len(edited_probabilities)} predictions."
        )
    rows = []
    for pair, original, edited in zip(pairs, original_probabilities, edited_probabilities):
        original_predicted = TRICKY_REVIEW_CLASSES[int(original.argmax())]
        edited_predicted = TRICKY_REVIEW_CLASSES[int(edited.argmax())]
        rows.append({
            **pair,
            "original_predicted": original_predicted,
            "original_confidence": float(original.max()),
            "edited_predicted": edited_predicted,
            "edited_confidence": float(edited.max()),
            "consistent": original_predicted == pair["original_label"] and edited_predicted == pair["edited_label"],
        })  # fmt: skip
    phenomena = {}
    for row in rows:
        phenomena.setdefault(row["phenomenon"], []).append(row)
    return {
        **pair_metrics(rows),
        "by_phenomenon": {name: pair_metrics(group) for name, group in sorted(phenomena.items())},
        "pairs": rows,
    }


def pair_metrics(rows: Sequence[dict]) -> dict:
    """What a model does on scored pairs (each with gold and predicted labels on both sides):

    - `consistency`: the share of pairs whose original and edit are both labelled right;
    - `original_accuracy`, `edited_accuracy`: the share of originals, and of edits, labelled right;
    - `flip_rate`: the share of pairs whose two predicted labels differ, whatever the gold labels;
    - `flips_when_it_should`: that share among the `should_flip` pairs, whose gold labels differ (the edit changes
      the sentiment): 1 is right;
    - `flips_when_it_should_not`: that share among the other pairs, whose gold labels agree (an edit of intensity
      that keeps the sentiment): 0 is right.

    A share over no pairs is None. With two classes a pair can flip when it should and still be wrong on both sides;
    `consistency` is the figure that asks for both sides right.
    """
    original_right = np.array([row["original_predicted"] == row["original_label"] for row in rows])
    edited_right = np.array([row["edited_predicted"] == row["edited_label"] for row in rows])
    flipped = np.array([row["original_predicted"] != row["edited_predicted"] for row in rows])
    should_flip = np.array([row["original_label"] != row["edited_label"] for row in rows])
    return {
        "count": len(rows),
        "consistency": float((original_right & edited_right).mean()),
        "original_accuracy": float(original_right.mean()),
        "edited_accuracy": float(edited_right.mean()),
        "flip_rate": float(flipped.mean()),
        "should_flip": int(should_flip.sum()),
        "flips_when_it_should": float(flipped[should_flip].mean()) if should_flip.any() else None,
        "flips_when_it_should_not": float(flipped[~should_flip].mean()) if not should_flip.all() else None,
    }


def score_hard_cases(
    predict_probabilities: Callable[[list[str]], np.ndarray],
    model_labels: Sequence[str],
    tricky: Sequence[dict] = (),
    pairs: Sequence[dict] = (),
    label_map: Mapping[str, str] = {},
) -> dict:
    """A model's results on the tricky reviews and the minimal pairs, all their texts labelled by one call of
    `predict_probabilities` (texts to probabilities over `model_labels`).

    Returns `{"tricky_reviews": ..., "minimal_pairs": ...}`, each None when it has nothing to score or when the
    model's labels do not map onto `TRICKY_REVIEW_CLASSES` (a three-class model's "neutral"; the log says why).
    """
    scored = {"tricky_reviews": None, "minimal_pairs": None}
    try:
        mapping = match_labels(model_labels, TRICKY_REVIEW_CLASSES, label_map)
    except ValueError as error:
        logger.warning(
            f"Tricky reviews and minimal pairs not scored: they are labelled {list(TRICKY_REVIEW_CLASSES)}. {error}"
        )
        return scored
    texts = [review["text"] for review in tricky] + [pair["original"] for pair in pairs]
    texts += [pair["edited"] for pair in pairs]
    if not texts:
        return scored
    model_probabilities = np.asarray(predict_probabilities(texts))
    probabilities = to_dataset_classes(model_probabilities, mapping, len(TRICKY_REVIEW_CLASSES))
    edits_start = len(tricky) + len(pairs)
    if tricky:
        scored["tricky_reviews"] = tricky_review_results(tricky, probabilities[: len(tricky)])
    if pairs:
        originals, edits = probabilities[len(tricky) : edits_start], probabilities[edits_start:]
        scored["minimal_pairs"] = minimal_pair_results(pairs, originals, edits)
    return scored


def hard_case_summary(scored: Mapping[str, dict | None]) -> dict:
    """The figures of `score_hard_cases` without the rows of each review and pair: what a run's `all_results.json`
    keeps and the model card shows."""
    rows_key = {"tricky_reviews": "reviews", "minimal_pairs": "pairs"}
    return {
        name: {key: value for key, value in results.items() if key != rows_key[name]}
        for name, results in scored.items()
        if results
    }


def evaluation_report(
    labels: np.ndarray,
    probabilities: np.ndarray,
    texts: Sequence[str],
    label_names: Sequence[str],
    calibration_bins: int = 10,
    error_count: int = 10,
    temperature: float | None = None,
    unscaled_probabilities: np.ndarray | None = None,
) -> dict:
    """All measurements of one model on one labelled split (probabilities over the dataset's classes, `label_names`
    in label order).

    For a model calibrated by temperature scaling, `temperature` and `unscaled_probabilities` (what it gave before
    the scaling) add `before_temperature_scaling`: its NLL and calibration bins then, beside those it has now.
    """
    labels = np.asarray(labels)
    if len(labels) != len(probabilities) or len(labels) != len(texts):
        raise ValueError(f"{len(labels)} labels, {len(probabilities)} predictions and {len(texts)} texts differ.")
    before = {}
    if temperature is not None:
        before["before_temperature_scaling"] = {
            "temperature": temperature,
            "negative_log_likelihood": negative_log_likelihood(labels, unscaled_probabilities),
            "calibration": calibration(labels, unscaled_probabilities, calibration_bins),
        }
    return {
        **classification_metrics(labels, probabilities, label_names),
        "calibration": calibration(labels, probabilities, calibration_bins),
        "negative_log_likelihood": negative_log_likelihood(labels, probabilities),
        **before,
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


def write_report(report: dict, output_dir: str | Path, title: str, log_history: Sequence[dict] | None = None) -> dict:
    """Writes `evaluation.json`, `evaluation.md` and the PNG plots into `output_dir`; returns {plot name: file}."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    plots = {name: output_dir / file for name, file in PLOT_FILES.items()}
    plot_confusion_matrix(report["confusion_matrix"], list(report["per_class"]), plots["confusion_matrix"], title)
    before = report.get("before_temperature_scaling", {}).get("calibration")
    plot_reliability_diagram(report["calibration"], plots["reliability_diagram"], title, before=before)
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


def marked_edit(original: str, edited: str) -> str:
    """The edited text with what the edit did marked, word by word: ~~removed~~ words and **new** ones."""
    before, after = original.split(), edited.split()
    words = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, before_start, before_end, after_start, after_end in matcher.get_opcodes():
        if tag == "delete":
            words.append(f"~~{' '.join(before[before_start:before_end])}~~")
        elif tag in ("insert", "replace"):
            words.append(f"**{' '.join(after[after_start:after_end])}**")
        else:
            words += after[after_start:after_end]
    return " ".join(words)


def minimal_pairs_markdown(results: Mapping) -> list[str]:
    """The pair figures (`minimal_pair_results` or its summary) as Markdown lines, a sentence and a table by
    phenomenon: what the evaluation report and the model card show."""
    should_flip, count = results["should_flip"], results["count"]
    sentence = (
        f"Both sides right on {percent(results['consistency'])} of {count} pairs (originals "
        f"{percent(results['original_accuracy'])}, edits {percent(results['edited_accuracy'])}). The predicted label "
        f"changes on {percent(results['flips_when_it_should'])} of the {should_flip} pairs whose edit changes the true "
        "label (it should)"
    )
    if results["flips_when_it_should_not"] is not None:
        sentence += (
            f", and on {percent(results['flips_when_it_should_not'])} of the {count - should_flip} whose edit keeps it "
            "(it should not)"
        )
    header = (
        "| phenomenon | pairs | both right | originals | edits | flips when it should | flips when it should not |"
    )
    lines = [sentence + ".", "", header, "|---|---:|---:|---:|---:|---:|---:|"]
    for name, entry in [*results["by_phenomenon"].items(), ("**all**", results)]:
        figures = ("consistency", "original_accuracy", "edited_accuracy", "flips_when_it_should",
                   "flips_when_it_should_not")  # fmt: skip
        cells = [quoted(name), str(entry["count"]), *(percent(entry[figure]) for figure in figures)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def hard_cases_markdown(summary: Mapping) -> str:
    """The model card's account of the tricky reviews and the minimal pairs, from the figures `hard_case_summary`
    keeps (a run's `all_results.json`); empty when it holds neither."""
    lines = []
    tricky = summary.get("tricky_reviews")
    if tricky:
        categories = ", ".join(f"{name} {percent(value)}" for name, value in tricky["by_category"].items())
        lines += [f"**Tricky reviews** ({tricky['count']} hand-written reviews, each with its expected label): "
                  f"{percent(tricky['accuracy'])} right; by category: {categories}.", ""]  # fmt: skip
    pairs = summary.get("minimal_pairs")
    if pairs:
        sentence, *table = minimal_pairs_markdown(pairs)
        lines += ["**Minimal pairs** (hand-written reviews, each beside a minimally edited version, both labelled: "
                  f"negation added or removed, a contrast turned, intensity changed, the verdict changed). {sentence}",
                  *table]  # fmt: skip
    return "\n".join(lines)


def markdown_report(report: dict, title: str, plots: Mapping[str, Path]) -> str:
    """The report as Markdown, images linked by file name (they sit beside it)."""
    lines = [f"# Evaluation: {title}", ""]
    source = report.get("source", {})
    if source:
        lines += [", ".join(f"{key}: {value}" for key, value in source.items()), ""]
    label_names = list(report["per_class"])
    f1_header = "F1 (positive)" if len(label_names) == 2 else "F1 (macro)"
    lines += [
        f"| reviews | accuracy | {f1_header} | macro F1 | ROC-AUC | ECE | NLL |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        (
            f"| {report['samples']:,} | {percent(report['accuracy'])} | {percent(report['f1'])} | "
            f"{percent(report['macro_f1'])} | {decimal(report['roc_auc'])} | "
            f"{decimal(report['calibration']['expected_calibration_error'])} | "
            f"{decimal(report['negative_log_likelihood'])} |"
        ),
        "",
    ]
    before = report.get("before_temperature_scaling")
    if before:
        lines += [
            "## Temperature scaling",
            "",
            f"The model divides its logits by T = {before['temperature']:.4f} (fitted on its validation split); "
            "labels are unchanged. ECE and negative log-likelihood (NLL) of these reviews:",
            "",
            "| probabilities | ECE | NLL |",
            "|---|---:|---:|",
            f"| before scaling | {decimal(before['calibration']['expected_calibration_error'])} | "
            f"{decimal(before['negative_log_likelihood'])} |",
            f"| as the model gives them | {decimal(report['calibration']['expected_calibration_error'])} | "
            f"{decimal(report['negative_log_likelihood'])} |",
            "",
        ]
    lines += [
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
    pairs = report.get("minimal_pairs")
    if pairs:
        lines += ["", f"## Minimal pairs: {percent(pairs['consistency'])} both right", "",
                  *minimal_pairs_markdown(pairs)]  # fmt: skip
        wrong = [row for row in pairs["pairs"] if not row["consistent"]]
        if wrong:
            lines += ["", "Pairs not both right (in the edit, ~~removed~~ and **new** words):", "",
                      "| phenomenon | expected | predicted | original | edit |", "|---|---|---|---|---|"]  # fmt: skip
        for row in wrong:
            lines.append(
                f"| {quoted(row['phenomenon'])} | {row['original_label']} → {row['edited_label']} | "
                f"{row['original_predicted']} → {row['edited_predicted']} | {quoted(row['original'])} | "
                f"{quoted(marked_edit(row['original'], row['edited']))} |"
            )
    return "\n".join(lines) + "\n"
