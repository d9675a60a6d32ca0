"""Hyperparameter search with Optuna through `Trainer.hyperparameter_search`: spaces declared in recipes, a persistent
and shareable study, pruning on per-epoch validation accuracy, the best trial exported as a recipe.

The test split is never used: every trial is judged on the validation split.
"""

import json
import math
import os
import socket
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import optuna
import psutil
import yaml
from transformers import PreTrainedModel, Trainer

from .approaches import APPROACHES, Approach
from .arguments import read_recipe_file

OBJECTIVE = "eval_accuracy"
# What counts toward `n_trials`: a failed trial (its worker was killed) is replaced.
TRIAL_STATES_COUNTED = (
    optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.RUNNING
)  # fmt: skip
# The user attribute that names the process running a trial: host, process id and the process's start time.
WORKER_ATTRIBUTE = "worker"


# The approaches a search can tune: those of the registry that build a fresh model for each trial.
SEARCHABLE = tuple(name for name, approach in APPROACHES.items() if approach.searchable)


@dataclass
class SearchArguments:
    approach: Literal[SEARCHABLE] = field(
        default="lstm",
        metadata={
            "help": "What to search: an approach of trainers/approaches.py whose training script takes the best "
            "recipe (lstm with a pretrained folder searches lstm_pretrained)."
        },
    )
    search_space: dict | str | None = field(
        default=None,
        metadata={
            "help": "What to search, as a mapping (in the recipe) or JSON: name -> {type: float|int|categorical, "
            "low, high, log, step, choices}. Names are training arguments or model hyperparameters."
        },
    )
    n_trials: int = field(default=20, metadata={"help": "Trials the study should hold in all, over all workers."})
    storage: str | None = field(
        default=None,
        metadata={
            "help": "Where the study lives: an RDB URL (sqlite:///study.db, postgresql://...), or journal:PATH for a "
            "journal file several workers on one machine can share. Default: sqlite in output_dir."
        },
    )
    study_name: str | None = field(default=None, metadata={"help": "Study name (default: output_dir's name)."})
    heartbeat_interval: int = field(
        default=60,
        metadata={
            "help": "Seconds between the heartbeats a running trial records in an RDB storage (sqlite, postgresql...). "
            "A trial silent for grace_period seconds (its worker was killed) is marked failed by the next worker "
            "and replaced."
        },
    )
    grace_period: int | None = field(
        default=None,
        metadata={
            "help": "Seconds without a heartbeat before a running trial is failed (default: 2 x heartbeat_interval)."
        },
    )
    pruner: Literal["median", "none"] = field(
        default="median", metadata={"help": "median stops a trial whose epoch is worse than the median trial's."}
    )

    def __post_init__(self):
        if isinstance(self.search_space, str):
            self.search_space = json.loads(self.search_space)
        if not self.search_space:
            raise ValueError("search_space is empty: declare at least one hyperparameter to search in the recipe.")
        for name, spec in self.search_space.items():
            if spec.get("type") not in ("float", "int", "categorical"):
                raise ValueError(f"search_space['{name}'] needs type float, int or categorical, got {spec}.")
        if self.n_trials < 1:
            raise ValueError(f"n_trials must be at least 1, got {self.n_trials}.")


def search_argument_classes(approach: Approach) -> tuple[type, ...]:
    """What a search of `approach` parses: what its training script parses, with the search's own arguments before
    the training arguments."""
    *script_arguments, training_arguments = approach.argument_classes
    return (*script_arguments, SearchArguments, training_arguments)


def peek_approach(args: list[str]) -> str:
    """The `approach` a command asks for (its last recipe naming one, or `--approach`), needed before parsing,
    since it decides which model arguments exist."""
    approach = SearchArguments.__dataclass_fields__["approach"].default
    for argument in args:
        if not argument.endswith((".yaml", ".yml")):
            break
        try:
            approach = read_recipe_file(Path(argument)).get("approach", approach)
        except ValueError:  # parse_recipe says what is wrong with the recipe
            break
    if "--approach" in args[:-1]:
        approach = args[args.index("--approach") + 1]
    return approach


def suggest(trial: optuna.Trial, space: dict[str, dict]) -> dict:
    """Samples one value for every entry of `space`."""
    values = {}
    for name, spec in space.items():
        if spec["type"] == "categorical":
            values[name] = trial.suggest_categorical(name, spec["choices"])
        elif spec["type"] == "int":
            values[name] = trial.suggest_int(name, spec["low"], spec["high"], step=spec.get("step", 1))
        else:
            values[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec.get("log", False))
    return values


@contextmanager
def heartbeats_quietly():
    """Optuna 5.0 calls heartbeats experimental and warns so at every use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def open_storage(
    storage: str | None, output_dir: str | Path, heartbeat_interval: int, grace_period: int | None
) -> optuna.storages.BaseStorage:
    """`journal:PATH` -> a journal file storage (safe for workers on one machine); anything else is an RDB URL,
    default sqlite in `output_dir`, whose running trials record heartbeats (see `SearchArguments.heartbeat_interval`).
    Optuna 5.0's journal storage has no heartbeats."""
    if storage is not None and storage.startswith("journal:"):
        path = Path(storage.removeprefix("journal:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    if storage is None:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{Path(output_dir).resolve() / 'study.db'}"
    with heartbeats_quietly():
        return optuna.storages.RDBStorage(storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period)


def this_worker() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": psutil.Process().create_time()}


def is_running(worker: dict) -> bool:
    """Whether the process `this_worker` described on this machine still runs (its start time tells it from a new
    process that was given the same id)."""
    try:
        return psutil.Process(worker["pid"]).create_time() == worker["started"]
    except psutil.NoSuchProcess:
        return False


def fail_dead_trials(study: optuna.Study, storage: optuna.storages.BaseStorage) -> None:
    """Fails the running trials whose worker is gone: with an RDB storage, those whose heartbeats stopped; with
    the journal storage, which has no heartbeats in Optuna 5.0, those whose worker process on this machine no longer
    runs (a journal file is for the workers of one machine)."""
    with heartbeats_quietly():
        optuna.storages.fail_stale_trials(study)
    if isinstance(storage, optuna.storages.JournalStorage):
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            worker = trial.user_attrs.get(WORKER_ATTRIBUTE)
            if worker and worker["host"] == socket.gethostname() and not is_running(worker):
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)


def trials_counted(study: optuna.Study, storage: optuna.storages.BaseStorage) -> int:
    """Trials toward `n_trials`, after failing those whose worker is gone."""
    fail_dead_trials(study, storage)
    return len(study.get_trials(deepcopy=False, states=TRIAL_STATES_COUNTED))


def split_search_space(space: dict, training_fields: set[str], model_parameters: set[str]) -> tuple[dict, dict]:
    """(training arguments' space, model hyperparameters' space); a name that is neither would be silently ignored,
    so it is an error."""
    unknown = sorted(set(space) - training_fields - model_parameters)
    if unknown:
        raise ValueError(
            f"search_space names {unknown}, which are neither training arguments nor hyperparameters of this model."
        )
    training = {name: spec for name, spec in space.items() if name in training_fields}
    return training, {name: spec for name, spec in space.items() if name not in training}


def model_init_for(build_model: Callable[[dict], PreTrainedModel], model_space: dict) -> Callable:
    """`Trainer`'s `model_init`: samples the trial's model hyperparameters and builds the model (with the recipe's
    values when `trial` is None, as on `Trainer`'s first call)."""

    def model_init(trial: optuna.Trial | None) -> PreTrainedModel:
        return build_model({} if trial is None else suggest(trial, model_space))

    return model_init


def run_search(
    trainer: Trainer,
    training_space: dict,
    n_trials: int,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    pruner: str,
) -> optuna.Study:
    """Adds trials to the study until it holds `n_trials` finished or running (started by any worker), one `Trainer`
    trial at a time; a trial whose worker was killed is failed and replaced (see `fail_dead_trials`).

    One trial per `hyperparameter_search` call, so that each worker re-reads the study before starting another:
    workers sharing a storage then stop together at `n_trials` instead of each running `n_trials` of its own.
    Training arguments are sampled by `hp_space`, model hyperparameters by `model_init` (see `model_init_for`).
    """
    optuna_pruner = optuna.pruners.MedianPruner(n_startup_trials=2) if pruner == "median" else None
    study = optuna.create_study(storage=storage, study_name=study_name, direction="maximize", load_if_exists=True)

    def hp_space(trial: optuna.Trial) -> dict:
        trial.set_user_attr(WORKER_ATTRIBUTE, this_worker())  # see `fail_dead_trials`
        return suggest(trial, training_space)

    while trials_counted(study, storage) < n_trials:
        trainer.hyperparameter_search(
            hp_space=hp_space,
            compute_objective=lambda metrics: metrics[OBJECTIVE],
            n_trials=1,
            direction="maximize",
            backend="optuna",
            storage=storage,
            study_name=study_name,
            load_if_exists=True,
            # Unseeded: workers started together with one seed would draw the same candidates. Each trial's training
            # is still seeded (TrainingArguments.seed), so a trial's result repeats given its parameters.
            sampler=optuna.samplers.TPESampler(),
            pruner=optuna_pruner,
        )
    return study


# Search settings, and the data subset that kept trials short: a best recipe trains on the full data.
NOT_EXPORTED = {*SearchArguments.__dataclass_fields__, "max_train_samples", "max_test_samples"}


def export_best_recipe(study: optuna.Study, recipe: dict, path: str | Path, output_dir: str) -> dict:
    """The recipe of the search with the best trial's values, without search settings or data subset: the training
    script of the approach takes it as it is."""
    best = {key: value for key, value in recipe.items() if key not in NOT_EXPORTED}
    best.update(study.best_trial.params)
    best["output_dir"] = output_dir
    header = (
        f"# Best of {len(study.trials)} trials of study '{study.study_name}': trial {study.best_trial.number}, "
        f"validation accuracy {study.best_value:.4f} (on the search's subset; this recipe uses all the data).\n"
    )
    Path(path).write_text(header + yaml.safe_dump(best, sort_keys=False))
    return best


def summarize(study: optuna.Study) -> dict:
    states = [trial.state for trial in study.trials]
    return {
        "study_name": study.study_name,
        "trials": len(states),
        "complete": states.count(optuna.trial.TrialState.COMPLETE),
        "pruned": states.count(optuna.trial.TrialState.PRUNED),
        "failed": states.count(optuna.trial.TrialState.FAIL),
        "best_trial": study.best_trial.number,
        "best_validation_accuracy": study.best_value,
        "best_params": study.best_trial.params,
    }


def save_plots(study: optuna.Study, output_dir: str | Path) -> list[Path]:
    """Optimisation history and (with 2+ finished trials and 2+ parameters) parameter importances, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as optuna_plots

    output_dir = Path(output_dir)
    plots = {"optimization_history.png": optuna_plots.plot_optimization_history}
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(finished) >= 2 and len(study.best_trial.params) >= 2 and not math.isnan(study.best_value):
        plots["param_importances.png"] = optuna_plots.plot_param_importances
    written = []
    for name, plot in plots.items():
        axes = plot(study)
        axes.figure.set_size_inches(8, 5)
        axes.figure.tight_layout()
        axes.figure.savefig(output_dir / name, dpi=100)
        matplotlib.pyplot.close(axes.figure)
        written.append(output_dir / name)
    return written
