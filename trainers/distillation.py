"""Knowledge distillation into an LSTM (Hinton et al., 2015): one or more teachers (model folders or Hub ids, any
approach, PyTorch or ONNX Runtime) label the transfer set with their class probabilities; the student, an ordinary
LSTM recipe, learns from the gold labels where reviews have them and from the teachers' distribution on every review
(`LSTMSentimentConfig.distillation_weight` and `distillation_temperature`).

The transfer set is the run's training reviews (gold labels) plus, unless turned off, the dataset's unlabeled split
(label -100): never its validation or test reviews, which the teachers label only to weigh themselves (several
teachers are averaged with the weights that give the validation reviews the highest likelihood) and to be reported.

Labelling is cached on disk (`TeacherLabelCache`): one folder per teacher and set of reviews, named by a fingerprint
of the teacher (its files, backend and cut) and of the reviews, written in chunks that each land whole (written
aside, then renamed), so a killed run resumes where it stopped and a run whose teacher and reviews are unchanged
labels nothing. Under `accelerate launch`, the processes share each chunk's reviews (`inference.labelling`) and the
main process writes it.
"""

import hashlib
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from datasets import Dataset, DatasetDict, Value, concatenate_datasets
from tqdm.auto import tqdm
from transformers.utils import logging

from inference.labelling import LabellingProcesses, label_in_chunks
from inference.labels import match_labels, to_dataset_classes
from inference.predictor import SentimentPredictor, load_predictor

from .data import DEFAULT_VALIDATION_FRACTION, DatasetSource, load_sentiment_splits, load_unlabeled_reviews
from .run_folder import RECIPE_FILE, TEST_PREDICTIONS_FILE, read_predictions, recorded_split_seed

logger = logging.get_logger(__name__)

# Reviews per cache file: what a kill can lose, and how often the processes meet.
CACHE_CHUNK_ROWS = 4096
# Files of a local teacher folder whose bytes decide its labels (weights, config, tokenizer and its cut).
TEACHER_FILE_PATTERNS = ("*.safetensors", "*.onnx", "config.json", "tokenizer.json", "tokenizer_config.json")
# The grid step of the teachers' weights searched on validation (each weight a multiple of it, summing to 1).
WEIGHT_GRID_STEP = 0.1
# The smallest probability a log takes: a teacher certain of a class must not make a student's target infinite.
PROBABILITY_FLOOR = 1e-7
NO_LABEL = -100


def reviews_fingerprint(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def teacher_fingerprint(model: str, backend: str) -> dict:
    """What decides a teacher's labels: a local folder's files (their SHA-256), else the Hub id, and the backend."""
    folder = Path(model)
    if not folder.is_dir():
        return {"model": model, "backend": backend}
    files = sorted(path for pattern in TEACHER_FILE_PATTERNS for path in folder.rglob(pattern) if path.is_file())
    hashes = {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
    return {"model": str(folder.resolve()), "backend": backend, "files": hashes}


@dataclass
class Teacher:
    """A teacher loaded once for all the reviews it labels: its predictor and the fingerprint of what it is."""

    model: str
    backend: str
    predictor: SentimentPredictor
    fingerprint: dict

    @classmethod
    def load(cls, model: str, backend: str = "torch", device: str = "cpu") -> "Teacher":
        return cls(
            model, backend, load_predictor("teacher", model, device, backend), teacher_fingerprint(model, backend)
        )


@dataclass
class TeacherLabelCache:
    """The class probabilities of one teacher for one list of reviews, in chunk files under `folder`."""

    folder: Path
    rows: int
    chunk_rows: int = CACHE_CHUNK_ROWS
    identity: dict = field(default_factory=dict)  # what the folder's name is a fingerprint of, kept in teacher.json

    @classmethod
    def for_reviews(
        cls, directory: str | Path, teacher: Teacher, texts: Sequence[str], chunk_rows: int = CACHE_CHUNK_ROWS
    ) -> "TeacherLabelCache":
        identity = {"teacher": teacher.fingerprint, "reviews": reviews_fingerprint(texts),
                    "rows": len(texts), "chunk_rows": chunk_rows}  # fmt: skip
        model = teacher.model
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        return cls(Path(directory) / f"{Path(model).name or 'teacher'}-{key}", len(texts), chunk_rows, identity)

    @property
    def chunks(self) -> int:
        return -(-self.rows // self.chunk_rows)

    def chunk_file(self, index: int) -> Path:
        return self.folder / f"probabilities-{index:05d}.npy"

    def missing_chunks(self) -> list[int]:
        return [index for index in range(self.chunks) if not self.chunk_file(index).is_file()]

    def write_chunk(self, index: int, probabilities: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        identity_file = self.folder / "teacher.json"
        if not identity_file.is_file():
            identity_file.write_text(json.dumps(self.identity, indent=2) + "\n")
        partial = self.chunk_file(index).with_suffix(".partial.npy")
        np.save(partial, probabilities.astype(np.float32))
        partial.replace(self.chunk_file(index))

    def read(self) -> np.ndarray:
        return np.concatenate([np.load(self.chunk_file(index)) for index in range(self.chunks)])


def label_reviews(
    processes: LabellingProcesses,
    teacher: Teacher,
    texts: Sequence[str],
    dataset_classes: Sequence[str],
    cache_directory: str | Path,
    batch_size: int = 64,
    description: str = "reviews",
    chunk_rows: int = CACHE_CHUNK_ROWS,
) -> tuple[np.ndarray, int]:
    """The teacher's probabilities over `dataset_classes` for `texts` (its labels matched by name), from the cache,
    labelling only the chunks it lacks; and how many reviews were labelled now."""
    cache = None
    if processes.is_main_process:
        cache = TeacherLabelCache.for_reviews(cache_directory, teacher, texts, chunk_rows)
    (missing,) = processes.broadcast([cache.missing_chunks() if cache else None])
    labels = teacher.predictor.labels
    mapping = match_labels(labels, dataset_classes)
    total = sum(min(chunk_rows, len(texts) - index * chunk_rows) for index in missing)
    bar_name = f"{Path(teacher.model).name}: {description}"
    with tqdm(total=total, unit="review", desc=bar_name, disable=not (missing and processes.is_main_process)) as bar:
        for index in missing:
            chunk = texts[index * chunk_rows : (index + 1) * chunk_rows]
            reviews = iter(chunk) if processes.is_main_process else None
            (records,) = label_in_chunks(processes, teacher.predictor, reviews, len(chunk), batch_size,
                                         top_k=len(labels), progress=bar)  # fmt: skip
            if processes.is_main_process:
                scores = [{entry["label"]: entry["score"] for entry in record["scores"]} for record in records]
                cache.write_chunk(index, np.array([[score[label] for label in labels] for score in scores]))
    probabilities = None
    if processes.is_main_process:
        probabilities = to_dataset_classes(cache.read(), mapping, len(dataset_classes))
    (probabilities,) = processes.broadcast([probabilities])
    return probabilities, total


def ensemble_weights(
    validation: Sequence[np.ndarray], labels: np.ndarray, step: float = WEIGHT_GRID_STEP
) -> list[float]:
    """The weights (multiples of `step`, summing to 1) whose average of the teachers' validation probabilities gives
    the validation labels the highest mean log-likelihood; one teacher weighs 1."""
    if len(validation) == 1:
        return [1.0]
    steps = round(1 / step)
    best, best_score = None, -np.inf
    for counts in itertools.product(range(steps + 1), repeat=len(validation) - 1):
        if sum(counts) > steps:
            continue
        weights = [count / steps for count in counts] + [(steps - sum(counts)) / steps]
        mixed = sum(weight * probabilities for weight, probabilities in zip(weights, validation))
        score = np.log(np.maximum(mixed[np.arange(len(labels)), labels], PROBABILITY_FLOOR)).mean()
        if score > best_score:
            best, best_score = weights, score
    return best


def mixed_log_probabilities(probabilities: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The log of the weighted average of the teachers' probabilities: the logits the student's targets come from."""
    mixed = sum(weight * teacher for weight, teacher in zip(weights, probabilities))
    return np.log(np.maximum(mixed, PROBABILITY_FLOOR)).astype(np.float32)


def transfer_reviews(splits: DatasetDict, source, seed: int, unlabeled: bool, max_unlabeled: int | None) -> Dataset:
    """The transfer set: the training reviews with their labels, then (if `unlabeled`) the dataset's unlabeled
    split with label -100."""
    # Plain integers: a class label column cannot hold -100.
    train = splits["train"].select_columns(["text", "label"]).cast_column("label", Value("int64"))
    if not unlabeled:
        return train
    extra = load_unlabeled_reviews(source, seed, max_unlabeled)
    extra = extra.add_column("label", [NO_LABEL] * len(extra)).cast(train.features)
    return concatenate_datasets([train, extra])


def teacher_training_overlap(teacher: str, source: DatasetSource, splits: DatasetDict) -> int | None:
    """How many of the run's validation reviews the teacher trained on, its training split carved again as its
    recorded recipe says (seed or split_seed, validation_fraction, max_train_samples), leaving out texts the run's own
    training split holds too (a dataset's duplicate reviews: IMDB has 24 in seed 42's validation split); None when
    that cannot be known: a teacher without a project recipe (a Hub id, another project's model) or trained on
    another dataset."""
    recipe_file = Path(teacher) / RECIPE_FILE
    if not recipe_file.is_file():
        return None
    recipe = yaml.safe_load(recipe_file.read_text())

    def dataset_of(settings: dict) -> str | None:
        return settings.get("dataset_hub_id") or settings.get("dataset_name")

    if dataset_of(recipe) != dataset_of(vars(source)):
        return None
    training = load_sentiment_splits(
        source,
        validation_fraction=recipe.get("validation_fraction", DEFAULT_VALIDATION_FRACTION),
        seed=recorded_split_seed(recipe),
        max_train_samples=recipe.get("max_train_samples"),
    )["train"]
    return len(set(splits["validation"]["text"]) & set(training["text"]) - set(splits["train"]["text"]))


def check_teachers_never_trained_on(teachers: Sequence[str], source: DatasetSource, splits: DatasetDict) -> None:
    """Refuses a teacher that trained on some of the run's validation reviews (its weight and reported accuracy
    would be flattered by them); warns where that cannot be checked."""
    validation = splits["validation"]
    for teacher in teachers:
        overlap = teacher_training_overlap(teacher, source, splits)
        if overlap is None:
            logger.warning(
                f"Cannot check that teacher {teacher_name(teacher)} never trained on this run's validation reviews "
                "(no project recipe, or another dataset): train it on the same split, or its weight is flattered."
            )
        elif overlap:
            raise ValueError(
                f"teacher {teacher_name(teacher)} trained on {overlap} of this run's {len(validation)} validation "
                "reviews (its recipe carved another split). Give the student the teacher's split: --split_seed "
                "with the teacher's seed, and its validation_fraction and max_train_samples."
            )


def teacher_name(teacher: str) -> str:
    """A teacher as results and cards name it: a local folder by its name (no path of the training machine), a Hub
    model by its id."""
    return Path(teacher).name if Path(teacher).exists() else teacher


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean())


def teachers_test_accuracy(
    teachers: Sequence[str],
    weights: Sequence[float],
    test: Dataset,
    dataset_classes: Sequence[str],
    fitted: Sequence["FittedTeacher"] = (),
) -> dict | None:
    """Each teacher's test accuracy and that of their weighted average, from the test predictions each teacher's run
    saved (`test_predictions.csv`), then the `fitted` teachers' own: None unless every teacher is a local folder that
    saved them for this test split (its labels, in order). Reported only: the weights were chosen on validation."""
    labels = np.asarray(test["label"])
    saved = []
    for teacher in teachers:
        path = Path(teacher) / TEST_PREDICTIONS_FILE
        if not path.is_file():
            return None
        saved_labels, probabilities, names = read_predictions(path)
        if not np.array_equal(saved_labels, labels):
            return None
        saved.append(to_dataset_classes(probabilities, match_labels(names, dataset_classes), len(dataset_classes)))
    saved.extend(teacher.test for teacher in fitted)
    mixed = sum(weight * probabilities for weight, probabilities in zip(weights, saved))
    return {
        "teachers": [accuracy(probabilities, labels) for probabilities in saved],
        "average": accuracy(mixed, labels),
    }


@dataclass
class FittedTeacher:
    """A teacher the run fits itself on its training reviews (an n-gram baseline: `evaluation.baselines`), given to
    `label_with_teachers` as its class probabilities, over the dataset's classes."""

    name: str  # as results and cards name it
    validation: np.ndarray
    transfer: np.ndarray
    test: np.ndarray  # reported only
    seconds: float  # fitting and labelling


def label_with_teachers(
    processes: LabellingProcesses,
    teachers: Sequence[str],
    transfer: Dataset,
    validation: Dataset,
    test: Dataset,
    dataset_classes: Sequence[str],
    cache_directory: str | Path,
    backend: str = "torch",
    device: str = "cpu",
    batch_size: int = 64,
    weights: Sequence[float] | None = None,
    fitted: Sequence[FittedTeacher] = (),
) -> tuple[np.ndarray, dict]:
    """The student's targets for the transfer set (`mixed_log_probabilities` of the teachers, then of the `fitted`
    ones, weighted as given or by `ensemble_weights` on validation), and what the run records of them (with the
    teachers' test accuracy where `teachers_test_accuracy` can read it)."""
    started = time.perf_counter()
    transfer_probabilities, validation_probabilities, labelled_reviews = [], [], 0
    for model in teachers:
        teacher = Teacher.load(model, backend, device)
        for texts, target, description in (
            (list(validation["text"]), validation_probabilities, "validation reviews"),
            (list(transfer["text"]), transfer_probabilities, "transfer set"),
        ):
            probabilities, labelled = label_reviews(
                processes, teacher, texts, dataset_classes, cache_directory, batch_size, description
            )
            target.append(probabilities)
            labelled_reviews += labelled
    for teacher in fitted:
        validation_probabilities.append(teacher.validation)
        transfer_probabilities.append(teacher.transfer)
    labelling_seconds = time.perf_counter() - started + sum(teacher.seconds for teacher in fitted)
    validation_labels = np.asarray(validation["label"])
    if weights is None:
        weights = ensemble_weights(validation_probabilities, validation_labels)
    elif len(weights) != len(validation_probabilities) or min(weights) < 0 or not np.isclose(sum(weights), 1.0):
        raise ValueError(
            f"teacher_weights must be {len(validation_probabilities)} non-negative numbers summing to 1 (one per "
            f"teacher, then one per baseline teacher), got {weights}."
        )
    mixed_validation = sum(weight * probabilities for weight, probabilities in zip(weights, validation_probabilities))
    gold = np.asarray(transfer["label"])
    has_gold = gold != NO_LABEL
    mixed = mixed_log_probabilities(transfer_probabilities, weights)
    on_test = teachers_test_accuracy(teachers, weights, test, dataset_classes, fitted)
    names = [teacher_name(teacher) for teacher in teachers] + [teacher.name for teacher in fitted]
    results = {
        "distillation_teachers": [
            {
                "name": name,
                "weight": weight,
                "validation_accuracy": accuracy(probabilities, validation_labels),
                **({"test_accuracy": on_test["teachers"][index]} if on_test else {}),
            }
            for index, (name, weight, probabilities) in enumerate(zip(names, weights, validation_probabilities))
        ],
        "distillation_teacher_validation_accuracy": accuracy(mixed_validation, validation_labels),
        **({"distillation_teacher_test_accuracy": on_test["average"]} if on_test else {}),
        "distillation_teacher_train_accuracy": accuracy(mixed[has_gold], gold[has_gold]),
        "distillation_transfer_reviews": len(transfer),
        "distillation_transfer_unlabeled_reviews": int((~has_gold).sum()),
        "distillation_labelled_reviews": labelled_reviews,
        "distillation_labelling_seconds": labelling_seconds,
    }
    return mixed, results


def with_teacher_logits(tokenized: Dataset, teacher_logits: np.ndarray) -> Dataset:
    """The tokenized transfer set with each review's teacher logits, as the student's forward pass takes them."""
    if len(tokenized) != len(teacher_logits):
        raise ValueError(f"{len(teacher_logits)} teacher rows for {len(tokenized)} reviews.")
    return tokenized.add_column("teacher_logits", teacher_logits.tolist())
