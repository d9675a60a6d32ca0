"""scripts/distill.py and trainers/distillation.py: teachers (real model folders) label real IMDB reviews, cached on
disk and never labelled twice, several weighed on validation; the student is an ordinary LSTM folder."""

import json
import subprocess
import sys

import numpy as np
import pytest
from datasets import Dataset, DatasetDict, Value, concatenate_datasets
from sklearn.model_selection import StratifiedKFold
from transformers import pipeline

from evaluation.baselines import BASELINES, fit_baseline_teacher, train_baseline
from inference.labelling import LabellingProcesses
from trainers.arguments import DistillationArguments
from trainers.data import DatasetSource, load_sentiment_splits
from trainers.distillation import (
    NO_LABEL,
    Teacher,
    ensemble_weights,
    label_reviews,
    label_with_teachers,
    mixed_log_probabilities,
    teacher_training_overlap,
    teachers_test_accuracy,
)

from ..conftest import PROJECT_ROOT, TWO_CPU_PROCESSES, pipeline_scores, train_test_lstm

SCRIPT = PROJECT_ROOT / "scripts" / "distill.py"
# The GPU recipe (a fine-tuned ModernBERT teacher), here with the tests' small random ModernBERT and the small LSTM.
GPU_RECIPE = PROJECT_ROOT / "configs" / "distill" / "modernbert_teacher.yaml"
# The split of the teachers (seed 42, 200 reviews: the fine-tuned ModernBERT's), which no teacher may have trained on
# a validation review of.
SMALL = [
    "--max_train_samples", "200", "--max_test_samples", "64", "--max_unlabeled_samples", "200",
    "--max_length", "128", "--head_tokens", "32", "--hidden_size", "16", "--num_train_epochs", "1",
    "--per_device_train_batch_size", "16", "--disable_tqdm", "true",
    "--pretrained_model_name_or_path", "",  # the student from scratch: no word vectors needed here
    "--teacher_backend", "torch",  # float32, whose labels match to 1e-5 however the reviews are batched
]  # fmt: skip


def run_distill(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), str(GPU_RECIPE), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900)


@pytest.fixture(scope="module")
def distilled(finetuned_modernbert_folder, imdb_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    lstm_teacher = train_test_lstm(imdb_dataset, root / "lstm-teacher", "--max_train_samples", "200")
    teachers = [lstm_teacher, finetuned_modernbert_folder]
    completed = run_distill("--teachers", *teachers, "--dataset_name", imdb_dataset, *SMALL,
                            "--teacher_labels_dir", root / "labels", "--output_dir", root / "student")  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    return root, teachers


def test_the_student_is_an_ordinary_lstm_folder_that_names_its_teachers(distilled, imdb_splits):
    root, teachers = distilled
    folder = root / "student"
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "imdb_lstm" and config["distillation_temperature"] == 2.0
    results = json.loads((folder / "all_results.json").read_text())
    # 180 training reviews (20 went to validation) with gold labels, 200 unlabeled ones.
    assert results["distillation_transfer_reviews"] == results["train_samples"] == 380
    assert results["distillation_transfer_unlabeled_reviews"] == 200
    assert results["distillation_labelled_reviews"] == 2 * (380 + 20)  # each teacher: transfer set and validation
    named = results["distillation_teachers"]
    assert [teacher["name"] for teacher in named] == [teacher.name for teacher in teachers]
    # The LSTM teacher's run saved 300 test reviews, not the student's 64: no test figure is made up.
    assert "distillation_teacher_test_accuracy" not in results and "test_accuracy" not in named[0]
    assert sum(teacher["weight"] for teacher in named) == pytest.approx(1.0)
    card = (folder / "README.md").read_text()
    assert "## Distillation" in card and f"| {teachers[0].name} |" in card and str(root) not in card
    assert f"Distilled from '{teachers[0].name}', '{teachers[1].name}': trained on the gold labels" in card
    # Every door of an LSTM folder: the pipeline labels reviews with the folder's own labels.
    scores = pipeline_scores(pipeline("sentiment-analysis", model=str(folder), trust_remote_code=True),
                             imdb_splits["test"]["text"][:4])  # fmt: skip
    assert all(set(score) == {"neg", "pos"} for score in scores)


def test_a_second_run_reads_every_label_from_the_cache(distilled, imdb_dataset):
    root, teachers = distilled
    labels_before = sorted(path.stat().st_mtime_ns for path in (root / "labels").rglob("*.npy"))
    completed = run_distill("--teachers", *teachers, "--dataset_name", imdb_dataset, *SMALL,
                            "--teacher_labels_dir", root / "labels", "--output_dir", root / "again")  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads((root / "again" / "all_results.json").read_text())
    assert results["distillation_labelled_reviews"] == 0
    assert sorted(path.stat().st_mtime_ns for path in (root / "labels").rglob("*.npy")) == labels_before
    first = json.loads((root / "student" / "all_results.json").read_text())
    assert results["distillation_teachers"] == first["distillation_teachers"]


def read_cached_labels(folder) -> np.ndarray:
    return np.concatenate([np.load(chunk) for chunk in sorted(folder.glob("probabilities-*.npy"))])


def test_two_processes_label_the_transfer_set_as_one_process_does(distilled, imdb_dataset, tmp_path):
    """Under `accelerate launch`, the processes share the labelling: the cache they write holds the labels the
    one-process run wrote for the same teacher and reviews, and one student is trained over both processes."""
    root, (lstm_teacher, _) = distilled
    completed = subprocess.run(
        [*TWO_CPU_PROCESSES, str(SCRIPT), str(GPU_RECIPE), "--teachers", str(lstm_teacher), "--dataset_name",
         imdb_dataset, *SMALL, "--teacher_labels_dir", str(tmp_path / "labels"), "--output_dir",
         str(tmp_path / "student"), "--use_cpu", "true", "--ddp_backend", "gloo"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads((tmp_path / "student" / "all_results.json").read_text())
    assert results["num_processes"] == 2 and results["distillation_labelled_reviews"] == 380 + 20
    cached = sorted(path for path in (tmp_path / "labels").iterdir() if path.is_dir())
    assert len(cached) == 2  # the transfer set and the validation reviews
    for folder in cached:
        one_process = root / "labels" / folder.name
        assert one_process.is_dir(), "the same teacher and reviews make the same cache folder"
        np.testing.assert_allclose(read_cached_labels(folder), read_cached_labels(one_process), atol=1e-5)
    assert completed.stderr.count("Model folder:") == 1, "only the main process writes the student"


def test_a_teacher_that_trained_on_the_students_validation_reviews_is_refused(distilled, imdb_dataset, tmp_path):
    """Half of the teachers' 200 reviews as validation: the teachers trained on most of them. The recipe's split_seed
    (42, the teachers') gives a student of seed 43 the teachers' split (seed 43's own would carve another)."""
    root, teachers = distilled
    common = ["--teachers", *teachers, "--dataset_name", imdb_dataset, *SMALL, "--teacher_labels_dir", root / "labels"]
    refused = run_distill(*common, "--validation_fraction", "0.5", "--output_dir", tmp_path / "refused")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"error: teacher {teachers[0].name} trained on " in refused.stderr and "--split_seed" in refused.stderr
    assert not (tmp_path / "refused" / "model.safetensors").exists()
    accepted = run_distill(*common, "--seed", "43", "--output_dir", tmp_path / "student")
    assert accepted.returncode == 0, accepted.stderr[-4000:]
    results = json.loads((tmp_path / "student" / "all_results.json").read_text())
    first = json.loads((root / "student" / "all_results.json").read_text())
    # The teachers' split: the same validation reviews (the same accuracies of the teachers on them) and the same
    # transfer set, whose labels the first student's run cached: nothing is labelled again.
    assert results["distillation_teachers"] == first["distillation_teachers"]
    assert results["distillation_labelled_reviews"] == 0


def test_a_teachers_overlap_is_unknown_without_its_recipe_or_on_another_dataset(distilled, imdb_dataset, tmp_path):
    root, (lstm_teacher, _) = distilled
    source = DatasetSource(dataset_name=imdb_dataset, dataset_hub_id="stanfordnlp/imdb")
    teachers_split = load_sentiment_splits(imdb_dataset, seed=42, max_train_samples=200)
    read, unread = teachers_split["train"]["text"][0], "A review no teacher read."
    splits = DatasetDict(validation=Dataset.from_dict({"text": [unread, read]}), train=Dataset.from_dict({"text": []}))
    assert teacher_training_overlap(str(lstm_teacher), source, splits) == 1
    # A review in the run's own training split too (a duplicate in the dataset) is not the teacher's doing.
    splits["train"] = Dataset.from_dict({"text": [read]})
    assert teacher_training_overlap(str(lstm_teacher), source, splits) == 0
    assert teacher_training_overlap(str(tmp_path), source, splits) is None  # a Hub model has no recipe
    sst2 = DatasetSource(dataset_name="copies/sst2", dataset_hub_id="stanfordnlp/sst2")
    assert teacher_training_overlap(str(lstm_teacher), sst2, splits) is None


def test_labelling_resumes_from_the_chunks_a_killed_run_wrote(trained_lstm_folder, imdb_splits, tmp_path):
    texts = list(imdb_splits["train"]["text"][:100])
    processes = LabellingProcesses()
    teacher = Teacher.load(str(trained_lstm_folder))
    labelled, count = label_reviews(processes, teacher, texts, ["neg", "pos"], tmp_path, chunk_rows=32)
    assert count == 100 and labelled.shape == (100, 2)
    np.testing.assert_allclose(labelled.sum(axis=1), 1.0, rtol=1e-5)
    (folder,) = tmp_path.iterdir()
    chunks = sorted(folder.glob("probabilities-*.npy"))
    assert len(chunks) == 4 and json.loads((folder / "teacher.json").read_text())["rows"] == 100
    # A kill while the third chunk was being written leaves it missing (a partial file is never read).
    chunks[2].unlink()
    (folder / "probabilities-00002.partial.npy").write_bytes(b"cut short")
    again, count = label_reviews(processes, teacher, texts, ["neg", "pos"], tmp_path, chunk_rows=32)
    assert count == 32
    np.testing.assert_allclose(again, labelled, rtol=1e-6)
    # Other reviews are other labels: a new cache folder, the old one untouched.
    label_reviews(processes, teacher, texts[:50], ["neg", "pos"], tmp_path, chunk_rows=32)
    assert len(list(tmp_path.iterdir())) == 2


def test_a_teacher_run_in_bfloat16_labels_anew_near_its_float32_labels(trained_lstm_folder, imdb_splits, tmp_path):
    """`--teacher_backend torch-bf16` is another backend, so another cache: float32's labels are never reused."""
    texts = list(imdb_splits["train"]["text"][:64])
    processes = LabellingProcesses()
    in_float32, _ = label_reviews(processes, Teacher.load(str(trained_lstm_folder)), texts, ["neg", "pos"], tmp_path)
    teacher = Teacher.load(str(trained_lstm_folder), "torch-bf16")
    in_bfloat16, count = label_reviews(processes, teacher, texts, ["neg", "pos"], tmp_path)
    assert count == 64 and len(list(tmp_path.iterdir())) == 2
    assert np.abs(in_bfloat16 - in_float32).max() < 0.05
    assert (in_bfloat16.argmax(-1) == in_float32.argmax(-1)).mean() >= 0.95


def test_the_teachers_test_accuracy_is_read_from_their_runs_for_their_own_test_split(
    trained_lstm_folder, imdb_dataset
):
    run_test = load_sentiment_splits(imdb_dataset, seed=42, max_test_samples=300)["test"]  # the fixture run's
    results = json.loads((trained_lstm_folder / "all_results.json").read_text())
    read = teachers_test_accuracy([trained_lstm_folder] * 2, [0.3, 0.7], run_test, ["neg", "pos"])
    assert read == {"teachers": [pytest.approx(results["test_accuracy"])] * 2,
                    "average": pytest.approx(results["test_accuracy"])}  # fmt: skip
    other_test = load_sentiment_splits(imdb_dataset, seed=42, max_test_samples=64)["test"]
    assert teachers_test_accuracy([trained_lstm_folder], [1.0], other_test, ["neg", "pos"]) is None
    assert teachers_test_accuracy(["answerdotai/ModernBERT-base"], [1.0], run_test, ["neg", "pos"]) is None


def test_teachers_are_weighed_by_validation_likelihood():
    labels = np.array([0, 1, 1, 0])
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.8, 0.2]])
    poor = np.array([[0.4, 0.6], [0.6, 0.4], [0.5, 0.5], [0.5, 0.5]])
    assert ensemble_weights([good, poor], labels) == [1.0, 0.0]
    assert ensemble_weights([poor, good], labels) == [0.0, 1.0]
    assert ensemble_weights([good], labels) == [1.0]
    mixed = mixed_log_probabilities([good, poor], [0.5, 0.5])
    np.testing.assert_allclose(np.exp(mixed), (good + poor) / 2, rtol=1e-6)


def test_a_run_without_teachers_or_weight_says_what_is_missing(imdb_dataset, tmp_path):
    completed = run_distill("--teachers", "--dataset_name", imdb_dataset, *SMALL, "--output_dir", tmp_path / "a")
    assert completed.returncode != 0 and "Traceback" not in completed.stderr
    no_weight = run_distill("--teachers", tmp_path, "--distillation_weight", "0", "--dataset_name", imdb_dataset,
                            *SMALL, "--output_dir", tmp_path / "b")  # fmt: skip
    assert no_weight.returncode == 1
    assert no_weight.stderr.strip().endswith("error: distillation_weight is 0: the student would ignore its teachers; "
                                              "set it above 0.")  # fmt: skip


def test_an_ngram_baseline_teaches_fitted_on_the_reviews_with_gold_labels_only(
    trained_lstm_folder, imdb_dataset, tmp_path
):
    """The baseline teacher is `train_baseline` on the transfer set's training reviews: the unlabeled ones (here 100
    real test reviews of another split, label -100) change nothing. It is weighed beside a model folder, and its test
    figure, computed, sits beside the folder's, read from its run."""
    splits = load_sentiment_splits(imdb_dataset, seed=42, max_train_samples=400, max_test_samples=300)
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    extra = load_sentiment_splits(imdb_dataset, seed=1, max_test_samples=100)["test"].cast_column(
        "label", Value("int64")
    )
    extra = extra.map(lambda _: {"label": NO_LABEL})
    transfer = concatenate_datasets([train.cast_column("label", Value("int64")), extra])
    fitted = fit_baseline_teacher(LabellingProcesses(), "nbsvm", transfer, validation, test)
    alone, report = train_baseline("nbsvm", train["text"], train["label"], validation["text"], validation["label"])
    assert fitted.name == f"nbsvm (C={report['chosen_c']})" and fitted.transfer.shape == (len(transfer), 2)
    np.testing.assert_allclose(fitted.validation, alone.predict_proba(validation["text"]), rtol=1e-5)
    np.testing.assert_allclose(fitted.test, alone.predict_proba(test["text"]), rtol=1e-5)
    with pytest.raises(ValueError, match=r"Unknown baseline teacher 'svm': choose among \['nbsvm', 'tfidf'\]"):
        fit_baseline_teacher(LabellingProcesses(), "svm", transfer, validation, test)

    arguments = (
        LabellingProcesses(),
        [str(trained_lstm_folder)],
        transfer,
        validation,
        test,
        ["neg", "pos"],
        tmp_path,
    )
    _, results = label_with_teachers(*arguments, fitted=[fitted])
    folder_teacher, baseline_teacher = results["distillation_teachers"]
    assert folder_teacher["name"] == trained_lstm_folder.name and baseline_teacher["name"] == fitted.name
    assert folder_teacher["weight"] + baseline_teacher["weight"] == pytest.approx(1.0)
    assert baseline_teacher["validation_accuracy"] == pytest.approx(report["eval_accuracy"])
    # The folder's run saved predictions for these 300 test reviews (seed 42): both figures are there.
    test_labels = np.asarray(test["label"])
    assert baseline_teacher["test_accuracy"] == pytest.approx((fitted.test.argmax(axis=1) == test_labels).mean())
    assert "test_accuracy" in folder_teacher and "distillation_teacher_test_accuracy" in results
    with pytest.raises(
        ValueError, match="2 non-negative numbers summing to 1 .one per teacher, then one per baseline"
    ):
        label_with_teachers(*arguments, weights=[1.0], fitted=[fitted])


def test_a_baseline_teacher_labels_its_training_reviews_out_of_fold(imdb_dataset):
    """With folds, each training review's probabilities come from the pipeline at the chosen C fitted on the other
    folds, vectorizer included: on 400 real reviews the single fit's answers are its labels, the folds' answers are as
    good as on unseen reviews. Validation, test and unlabeled rows keep the single fit's probabilities."""
    splits = load_sentiment_splits(imdb_dataset, seed=42, max_train_samples=400, max_test_samples=200)
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    unlabeled = load_sentiment_splits(imdb_dataset, seed=1, max_test_samples=50)["test"].cast_column(
        "label", Value("int64")
    )
    transfer = concatenate_datasets(
        [train.cast_column("label", Value("int64")), unlabeled.map(lambda _: {"label": NO_LABEL})]
    )
    single = fit_baseline_teacher(LabellingProcesses(), "nbsvm", transfer, validation, test)
    folded = fit_baseline_teacher(LabellingProcesses(), "nbsvm", transfer, validation, test, folds=4)
    _, report = train_baseline("nbsvm", train["text"], train["label"], validation["text"], validation["label"])
    chosen_c = report["chosen_c"]
    assert (single.name, folded.name) == (f"nbsvm (C={chosen_c})", f"nbsvm (C={chosen_c}, 4 folds)")

    labels = np.asarray(train["label"])
    by_hand = np.empty((len(train), 2))
    for fitted_on, held_out in StratifiedKFold(4, shuffle=True, random_state=0).split(train["text"], labels):
        vectorizer = BASELINES["nbsvm"].vectorizer()
        classifier = (
            BASELINES["nbsvm"]
            .classifier(chosen_c)
            .fit(vectorizer.fit_transform([train["text"][index] for index in fitted_on]), labels[fitted_on])
        )
        by_hand[held_out] = classifier.predict_proba(
            vectorizer.transform([train["text"][index] for index in held_out])
        )
    np.testing.assert_allclose(folded.transfer[: len(train)], by_hand, rtol=1e-5)
    np.testing.assert_array_equal(folded.transfer[len(train) :], single.transfer[len(train) :])
    np.testing.assert_array_equal(folded.validation, single.validation)
    np.testing.assert_array_equal(folded.test, single.test)

    def accuracy(probabilities):
        return float((probabilities.argmax(axis=1) == labels).mean())

    assert accuracy(single.transfer[: len(train)]) == 1.0  # memorised
    assert accuracy(folded.transfer[: len(train)]) < 0.95


def test_a_baseline_may_teach_alone(imdb_dataset, tmp_path):
    """No model folder at all: the NB-weighted regression of the student's 180 training reviews is its teacher, each
    labelled by a fit on the other two of three folds."""
    assert DistillationArguments(baseline_teachers=["nbsvm"]).teachers == []
    for teachers in ({"baseline_teachers": ["nbsvm"]}, {"teachers": ["outputs/minilm-imdb"]}):
        with pytest.raises(ValueError, match="baseline_teacher_folds must be at least 1, got 0"):
            DistillationArguments(**teachers, baseline_teacher_folds=0)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"base_recipe: {GPU_RECIPE}\nteachers: []\nbaseline_teachers: [nbsvm]\nbaseline_teacher_folds: 3\n"
    )
    command = [sys.executable, str(SCRIPT), str(recipe), "--dataset_name", imdb_dataset, *SMALL,
               "--output_dir", str(tmp_path / "student")]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900)
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads((tmp_path / "student" / "all_results.json").read_text())
    (teacher,) = results["distillation_teachers"]
    assert (
        teacher["name"].startswith("nbsvm (C=") and teacher["name"].endswith(", 3 folds)") and teacher["weight"] == 1
    )
    assert results["distillation_teacher_test_accuracy"] == teacher["test_accuracy"]
    assert results["distillation_labelled_reviews"] == 0 and not (tmp_path / "student-teacher-labels").exists()
    card = (tmp_path / "student" / "README.md").read_text()
    assert (
        "Distilled from an n-gram baseline (nbsvm) fitted on the same training reviews (each labelled by a fit on the "
        "other 2 of 3 folds): trained on" in card
    )
