import json
import os
import sqlite3
import subprocess
import sys
import time

import optuna
import pytest
import yaml
from matplotlib.image import imread

from ..conftest import PROJECT_ROOT, TRAIN_SCRIPT, TWO_CPU_PROCESSES

SEARCH_SCRIPT = PROJECT_ROOT / "scripts" / "search.py"
SEARCH_RECIPE = PROJECT_ROOT / "configs" / "search" / "lstm.yaml"
# A few hundred real reviews, small models and two epochs: seconds per trial.
SMALL = [
    "--max_train_samples", "400", "--num_train_epochs", "2", "--max_length", "128", "--head_tokens", "32",
    "--vocab_size", "3000",
]  # fmt: skip


def search(output_dir, imdb_dataset, *options, wait=True, env=None):
    command = [sys.executable, str(SEARCH_SCRIPT), str(SEARCH_RECIPE), "--dataset_name", imdb_dataset,
               "--output_dir", str(output_dir), *SMALL, *options]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, env=env
    )
    if not wait:
        return process
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-4000:]
    return json.loads(stdout[stdout.index('{\n  "study_name"') :])  # after the Trainer's own log lines


def test_search_records_trials_resumes_and_exports_a_recipe_that_trains(tmp_path, imdb_dataset):
    output_dir = tmp_path / "search"
    first = search(output_dir, imdb_dataset, "--n_trials", "3")
    assert first["trials"] == 3 and first["complete"] + first["pruned"] == 3 and first["failed"] == 0
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{output_dir / 'study.db'}")
    assert [trial.number for trial in study.trials] == [0, 1, 2]
    # Model hyperparameters were sampled too, and every trial was judged on validation accuracy per epoch.
    assert {"hidden_size", "pooling", "learning_rate"} <= set(study.trials[0].params)
    assert all(trial.intermediate_values for trial in study.trials)

    second = search(output_dir, imdb_dataset, "--n_trials", "5")  # the same study, continued
    assert second["trials"] == 5 and second["study_name"] == "search"
    assert len(optuna.load_study(study_name="search", storage=f"sqlite:///{output_dir / 'study.db'}").trials) == 5

    for plot in ("optimization_history.png", "param_importances.png"):
        image = imread(output_dir / plot)
        assert image.shape[0] > 100 and image.shape[1] > 100
    best = yaml.safe_load((output_dir / "best_recipe.yaml").read_text())
    assert "search_space" not in best and "n_trials" not in best and "max_train_samples" not in best
    assert {key: best[key] for key in second["best_params"]} == second["best_params"]

    trained = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), str(output_dir / "best_recipe.yaml"), "--num_train_epochs", "1",
         "--max_train_samples", "400",
         "--max_test_samples", "100", "--output_dir", str(tmp_path / "best"), "--disable_tqdm", "true"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-4000:]
    config = json.loads((tmp_path / "best" / "config.json").read_text())
    assert config["hidden_size"] == second["best_params"]["hidden_size"]


def test_two_workers_share_one_journal_study(tmp_path, imdb_dataset):
    storage = tmp_path / "journal.log"
    one_core_each = {**os.environ, "OMP_NUM_THREADS": "1"}  # two workers on two cores, not four threads fighting
    workers = [
        search(tmp_path / f"worker-{index}", imdb_dataset, "--n_trials", "4", "--study_name", "shared",
               "--storage", f"journal:{storage}", wait=False, env=one_core_each)
        for index in range(2)
    ]  # fmt: skip
    for worker in workers:
        _, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, stderr[-4000:]
    study = optuna.load_study(
        study_name="shared",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(storage))),
    )
    numbers = [trial.number for trial in study.trials]
    assert numbers == list(range(len(numbers))), "each trial number once"
    # Both workers stop once the study holds 4; two finishing at the same instant may each start one more.
    assert 4 <= len(numbers) <= 5
    assert {trial.state for trial in study.trials} <= {
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
    }
    assert len({json.dumps(trial.params, sort_keys=True) for trial in study.trials}) == len(numbers)


def test_bad_search_spaces_and_multi_process_launches_are_refused(tmp_path, imdb_dataset):
    bad = subprocess.run(
        [sys.executable, str(SEARCH_SCRIPT), str(SEARCH_RECIPE), "--dataset_name", imdb_dataset, *SMALL,
         "--output_dir", str(tmp_path / "bad"), "--search_space", '{"hiden_size": {"type": "int", "low": 8, "high": 16}}'],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 1 and "search_space names ['hiden_size']" in bad.stderr
    launched = subprocess.run(
        [*TWO_CPU_PROCESSES, str(SEARCH_SCRIPT), str(SEARCH_RECIPE), "--dataset_name", imdb_dataset, *SMALL,
         "--output_dir", str(tmp_path / "ddp"), "--use_cpu", "true", "--ddp_backend", "gloo"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )  # fmt: skip
    assert launched.returncode != 0
    assert "instead of `accelerate launch`, start several workers with the same --storage" in launched.stderr


@pytest.mark.parametrize("storage", ["sqlite", "journal"])
def test_a_worker_killed_mid_trial_leaves_it_failed_and_the_study_goes_on(storage, tmp_path, imdb_dataset):
    output_dir = tmp_path / "search"
    # sqlite: heartbeats every second, and a trial silent for 2 s is dead. The journal has no heartbeats: a trial
    # whose worker process is gone is dead. No pruning: each trial runs to its end.
    options = ["--n_trials", "2", "--heartbeat_interval", "1", "--grace_period", "2", "--pruner", "none"]
    if storage == "journal":
        options += ["--storage", f"journal:{tmp_path / 'journal.log'}"]
    worker = search(output_dir, imdb_dataset, *options, wait=False)
    try:
        deadline = time.monotonic() + 120
        while not running_trials(storage, tmp_path):
            assert worker.poll() is None and time.monotonic() < deadline, "no trial started within 120 s"
            time.sleep(0.1)
    finally:
        worker.kill()
        worker.communicate()

    summary = search(output_dir, imdb_dataset, *options)  # starts well over 2 s later: the trial's heartbeat is old
    study = load_study(storage, tmp_path)
    assert study.trials[0].state == optuna.trial.TrialState.FAIL
    assert {trial.state for trial in study.trials[1:]} == {optuna.trial.TrialState.COMPLETE}
    assert (summary["trials"], summary["failed"], summary["complete"]) == (3, 1, 2)


def load_study(storage: str, tmp_path) -> optuna.Study:
    if storage == "journal":
        journal = optuna.storages.journal.JournalFileBackend(str(tmp_path / "journal.log"))
        return optuna.load_study(study_name="search", storage=optuna.storages.JournalStorage(journal))
    return optuna.load_study(study_name="search", storage=f"sqlite:///{tmp_path / 'search' / 'study.db'}")


def running_trials(storage: str, tmp_path) -> int:
    """How many trials are running and known as such to the next worker: with sqlite, those that recorded a
    heartbeat (Optuna leaves a trial killed before its first heartbeat running); with the journal, those that
    recorded their worker. 0 before the study exists."""
    if storage == "journal":
        try:
            trials = load_study(storage, tmp_path).get_trials(states=(optuna.trial.TrialState.RUNNING,))
        except KeyError:  # no study yet
            return 0
        return sum("worker" in trial.user_attrs for trial in trials)
    try:  # read-only: the worker creates the database and its tables
        with sqlite3.connect(f"file:{tmp_path / 'search' / 'study.db'}?mode=ro", uri=True) as connection:
            query = "SELECT COUNT(*) FROM trials JOIN trial_heartbeats USING (trial_id) WHERE state = 'RUNNING'"
            return connection.execute(query).fetchone()[0]
    except sqlite3.OperationalError:  # no database or no tables yet
        return 0
