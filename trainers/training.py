"""The training machinery every approach shares: tokenized splits, metrics, `Trainer`, one final test evaluation."""

import platform
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import evaluate
import numpy as np
import torch
from datasets import Dataset, DatasetDict
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    EvalPrediction,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
)
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_callback import TrainerState
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, PredictionOutput, sort_checkpoints

from inference.batching import length_order, restore_order
from models import TruncatingTokenizer

from .calibration import calibrate_trainer, test_result_entries
from .run_folder import (
    CALIBRATION_TEMPERATURE_KEY,
    TEST_PREDICTIONS_FILE,
    unfinished_folder,
    write_predictions,
    write_recipe,
    write_results,
)
from .semi_supervised import UnlabeledBatches, WeightAveraging

METRICS_MODULE = Path(__file__).parent / "sentiment_metrics"
# This project's distribution (setup.cfg) and the libraries whose versions a run records, with Python's.
PROJECT_DISTRIBUTION = "imdb-sentiment"
RECORDED_LIBRARIES = ("torch", "transformers", "tokenizers", "datasets", PROJECT_DISTRIBUTION)


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest `checkpoint-*` folder of `output_dir` that `Trainer` finished saving (it writes
    `trainer_state.json` last, so a run killed while saving leaves a newer folder without one), or None."""
    if not Path(output_dir).is_dir():
        return None
    saved = [path for path in sort_checkpoints(str(output_dir)) if (Path(path) / TRAINER_STATE_NAME).is_file()]
    return saved[-1] if saved else None


def resolve_checkpoint(args: TrainingArguments) -> None:
    """Turns `--resume_from_checkpoint` into the folder to resume from: `true` means the last checkpoint in
    `output_dir` (as in the transformers examples), anything else a checkpoint folder; raises ValueError, naming the
    place, when there is no such checkpoint."""
    requested = args.resume_from_checkpoint
    if requested is None:
        return
    if requested.lower() == "true":
        args.resume_from_checkpoint = last_checkpoint(args.output_dir)
        if args.resume_from_checkpoint is None:
            raise ValueError(f"--resume_from_checkpoint true: no saved checkpoint-* folder in '{args.output_dir}'.")
    elif not (Path(requested) / TRAINER_STATE_NAME).is_file():
        state = "no such folder" if not Path(requested).exists() else f"it has no {TRAINER_STATE_NAME}"
        raise ValueError(f"--resume_from_checkpoint '{requested}' is not a saved checkpoint: {state}.")


def software_versions() -> dict[str, str]:
    """The versions of Python and `RECORDED_LIBRARIES` this run trains with: its results keep them, so a model card
    generated later, on another machine, states the training run's and not its own."""
    return {"python": platform.python_version(), **{name: version(name) for name in RECORDED_LIBRARIES}}


def build_tokenizer_once(
    args: TrainingArguments, build_tokenizer: Callable[[], PreTrainedTokenizerBase]
) -> PreTrainedTokenizerBase:
    """Builds the tokenizer on the main process only and, under several processes, saves it in the run's unfinished
    folder, from which every other process loads it; a resumed run loads the checkpoint's.

    Every rank then holds the same vocabulary by construction, and the work is done once. Under several machines,
    `output_dir` must be storage that all of them see. A resumed run takes the vocabulary its checkpoint's weights
    were trained with, whatever the data or arguments now say.
    """
    if args.resume_from_checkpoint is not None:
        return TruncatingTokenizer.from_pretrained(args.resume_from_checkpoint)
    if args.world_size == 1:
        return build_tokenizer()
    shared = unfinished_folder(args.output_dir)
    with args.main_process_first(local=False, desc="building the tokenizer"):
        if args.process_index == 0:
            tokenizer = build_tokenizer()
            tokenizer.save_pretrained(shared)
            return tokenizer
        return TruncatingTokenizer.from_pretrained(shared)


def tokenize_splits(splits: DatasetDict, tokenizer: PreTrainedTokenizerBase, args: TrainingArguments) -> DatasetDict:
    """Tokenizes every split, each review cut by the tokenizer's own rule (`TruncatingTokenizer`: its head, its tail,
    or both, to `model_max_length` tokens), and records each review's length.

    The tokenizer saved with the model applies the same rule, so the reported test figures are what its users get.
    The `length` column lets `train_sampling_strategy="group_by_length"` batch reviews of similar length without
    measuring them again; padding is left to the collator, so each batch is padded only to its own longest review.
    """

    def encode(batch):
        encoded = tokenizer(batch["text"], truncation=True)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    # The main process tokenizes first and fills the datasets cache; the other processes then read it.
    with args.main_process_first(desc="tokenizing"):
        return splits.map(encode, batched=True, remove_columns=["text"], desc="Tokenizing")


def load_sentiment_metrics() -> evaluate.EvaluationModule:
    return evaluate.load(str(METRICS_MODULE))


def logits_of(prediction: EvalPrediction | PredictionOutput) -> np.ndarray:
    """The logits of a prediction (models that return more outputs give a tuple, logits first)."""
    return prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions


def make_compute_metrics(num_classes: int = 2):
    """`compute_metrics` for `Trainer`: accuracy, precision, recall and F1 (of the positive class for two classes,
    macro averages for more) from the logits' argmax."""
    metric = load_sentiment_metrics()

    def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
        predictions = np.argmax(logits_of(prediction), axis=-1)
        return metric.compute(predictions=predictions, references=prediction.label_ids, num_classes=num_classes)

    return compute_metrics


class SentimentTrainer(Trainer):
    """A `Trainer` whose optimizer gives the base model's parameters `base_model_learning_rate_ratio` times the
    learning rate (the scheduler then scales each rate alike), so pretrained layers can move more slowly than a new
    head; which, given `unlabeled_dataset` (tokenized, with a `length` column), hands the model a batch of unlabeled
    reviews with each training batch; and which, with `weight_averaging_decay`, evaluates, checkpoints and keeps an
    exponential moving average of the weights (`trainers.semi_supervised`)."""

    def __init__(self, *args, unlabeled_dataset: Dataset | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.unlabeled_batches = None
        if unlabeled_dataset is not None:
            self.unlabeled_batches = UnlabeledBatches(
                unlabeled_dataset,
                self.args.per_device_unlabeled_batch_size,
                self.processing_class,
                self.args.seed,
                self.args.process_index,
                self.args.world_size,
            )
        self.unlabeled_position = None
        decay = getattr(self.args, "weight_averaging_decay", None)
        self.weight_averaging = WeightAveraging(decay) if decay else None
        if self.weight_averaging is not None:
            self.add_callback(self.weight_averaging)

    def train(self, *args, **kwargs):
        self.unlabeled_position = None  # set at the first step: where this (possibly resumed) run starts
        if self.weight_averaging is not None:
            self.weight_averaging.averages = (
                None  # a new run (or search trial) starts its own; a resumed one loads them
            )
        output = super().train(*args, **kwargs)
        if self.weight_averaging is not None and not self.args.load_best_model_at_end:
            self.weight_averaging.swap(self.model)  # what the run keeps: the averages, not the last step's weights
        return output

    def compute_loss(self, model, inputs, *args, **kwargs):
        if self.unlabeled_batches is not None and model.training:
            if self.unlabeled_position is None:
                self.unlabeled_position = self.state.global_step * self.args.gradient_accumulation_steps
            batch = self.unlabeled_batches.batch(self.unlabeled_position)
            self.unlabeled_position += 1
            inputs = {**inputs, **{key: value.to(self.args.device) for key, value in batch.items()}}
        return super().compute_loss(model, inputs, *args, **kwargs)

    def _maybe_log_save_evaluate(self, *args, **kwargs):
        if self.weight_averaging is None or not (self.control.should_evaluate or self.control.should_save):
            return super()._maybe_log_save_evaluate(*args, **kwargs)
        with self.weight_averaging.swapped_in(self.model):
            return super()._maybe_log_save_evaluate(*args, **kwargs)

    def _save_checkpoint(self, model, trial):
        # Before the Trainer's files: its trainer_state.json, written last, marks a checkpoint whole, and a run killed
        # between the two must not leave a checkpoint that looks whole without its training weights.
        if self.weight_averaging is not None and self.args.should_save:
            checkpoint = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            checkpoint.mkdir(parents=True, exist_ok=True)
            self.weight_averaging.save_training_weights(self.model, checkpoint)
        super()._save_checkpoint(model, trial)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        if self.weight_averaging is not None:
            self.weight_averaging.resume(self.model if model is None else model, resume_from_checkpoint)

    def create_optimizer(self, model=None):
        already_created = self.optimizer is not None
        optimizer = super().create_optimizer(model)
        ratio = getattr(self.args, "base_model_learning_rate_ratio", 1.0)
        model = self.model if model is None else model
        if already_created or ratio == 1.0 or model.base_model is model:
            return optimizer
        base_parameters = {id(parameter) for parameter in model.base_model.parameters()}
        for group in list(optimizer.param_groups):
            base = [parameter for parameter in group["params"] if id(parameter) in base_parameters]
            group["params"] = [parameter for parameter in group["params"] if id(parameter) not in base_parameters]
            if base:
                optimizer.add_param_group({**group, "params": base, "lr": group["lr"] * ratio})
        return optimizer


def build_trainer(
    model: PreTrainedModel | None,
    args: TrainingArguments,
    tokenized: DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    early_stopping_patience: int | None = None,
    *,
    model_init: Callable | None = None,
    data_collator: Callable | None = None,
    unlabeled_dataset: Dataset | None = None,
) -> Trainer:
    """A `Trainer` that evaluates on the validation split and keeps the checkpoint that validation prefers.

    Batches are token ids padded per batch unless `data_collator` says otherwise (cached features are stacked);
    `unlabeled_dataset` (tokenized) gives the model a batch of unlabeled reviews with each of them.
    """
    callbacks = [EarlyStoppingCallback(early_stopping_patience)] if early_stopping_patience else []
    return SentimentTrainer(
        model=model,
        model_init=model_init,
        args=args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        data_collator=data_collator or DataCollatorWithPadding(tokenizer),
        compute_metrics=make_compute_metrics(len(tokenized["validation"].features["label"].names)),
        callbacks=callbacks,
        unlabeled_dataset=unlabeled_dataset,
    )


def train_and_evaluate(
    trainer: Trainer, tokenized: DatasetDict, recipe: dict, extra_results: dict | None = None
) -> dict[str, float]:
    """Trains (from `args.resume_from_checkpoint` if set, see `resolve_checkpoint`), evaluates the chosen checkpoint
    on validation, then once on test, and composes the Hub-ready folder in `output_dir/unfinished/`.

    The folder gets the model (safetensors, config with `auto_map`, code files), the tokenizer, the trainer state
    (training curves), `training_recipe.yaml` (the run's arguments, which its training script takes back), the test
    predictions and `all_results.json`: validation and test metrics, training wall time, training reviews/s,
    parameter count, number of processes, `software_versions`, and `extra_results` (what the run measured before
    training).
    `complete_run_folder` moves it into `output_dir` (`finish_run` writes the model card first).

    A resumed run's training loss, time and speed cover the training done after `resumed_at_epoch`, which the
    results then hold: `Trainer` keeps no running loss in its checkpoints.
    """
    checkpoint = trainer.args.resume_from_checkpoint
    resumed_at_epoch = 0.0
    if checkpoint:
        resumed_at_epoch = TrainerState.load_from_json(str(Path(checkpoint) / TRAINER_STATE_NAME)).epoch
    started = time.perf_counter()
    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    train_seconds = time.perf_counter() - started
    epochs = trainer.state.epoch or 0.0
    train_metrics = {
        "train_loss": train_output.training_loss,
        "train_runtime_seconds": train_seconds,
        # Reviews actually seen (epochs run, early stopping included) per second of training, validation included.
        "train_reviews_per_second": len(tokenized["train"]) * (epochs - resumed_at_epoch) / train_seconds,
        "epochs": epochs,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "num_parameters": trainer.model.num_parameters(),
        "num_trainable_parameters": trainer.model.num_parameters(only_trainable=True),
        "train_samples": len(tokenized["train"]),
        "num_processes": trainer.args.world_size,
        "software_versions": software_versions(),
        **({"resumed_at_epoch": resumed_at_epoch} if checkpoint else {}),
    }
    if getattr(trainer.args, "calibrate_temperature", False):  # before validation and test are scored
        train_metrics.update(calibrate_trainer(trainer, tokenized["validation"]))
    eval_metrics = trainer.evaluate(tokenized["validation"], metric_key_prefix="eval")
    eval_metrics["eval_samples"] = len(tokenized["validation"])
    # The dataset split validation came from: the training split's name when it was carved from it.
    eval_metrics["eval_split"] = str(tokenized["validation"].split)
    # `predict`, not `evaluate`: the test split must not reach callbacks such as early stopping.
    test_output = predict_in_order(trainer, tokenized["test"])
    test_metrics = {**test_output.metrics, "test_samples": len(tokenized["test"])}
    if CALIBRATION_TEMPERATURE_KEY in train_metrics:
        temperature = train_metrics[CALIBRATION_TEMPERATURE_KEY]
        test_metrics.update(test_result_entries(logits_of(test_output), test_output.label_ids, temperature))

    results = {**(extra_results or {}), **train_metrics, **eval_metrics, **test_metrics}
    folder = save_run_folder(trainer, recipe, results)
    if trainer.is_world_process_zero():
        probabilities = torch.softmax(torch.as_tensor(logits_of(test_output), dtype=torch.float64), dim=-1).numpy()
        id2label = trainer.model.config.id2label
        class_names = [id2label[index] for index in range(probabilities.shape[1])]
        write_predictions(folder / TEST_PREDICTIONS_FILE, test_output.label_ids, probabilities, class_names)
    return results


def save_run_folder(trainer: Trainer, recipe: dict, results: dict) -> Path:
    """Saves what every run's folder holds into `output_dir/unfinished/` (see `complete_run_folder`) and returns
    that folder: the model and tokenizer, and on the main process the trainer state, `training_recipe.yaml` and
    `all_results.json`."""
    folder = unfinished_folder(trainer.args.output_dir)
    trainer.save_model(str(folder))  # on every process: FSDP gathers the weights collectively
    if trainer.is_world_process_zero():
        trainer.state.save_to_json(str(folder / TRAINER_STATE_NAME))
        # `Trainer` pickles its arguments; the Hub folder holds no pickle, and the recipe says the same in YAML.
        (folder / "training_args.bin").unlink(missing_ok=True)
        write_recipe(folder, recipe)
        write_results(folder, results)
    return folder


def predict_in_order(trainer: Trainer, dataset: Dataset) -> PredictionOutput:
    """`trainer.predict` on `dataset` (metrics prefixed `test_`), with rows in the dataset's order.

    With `group_by_length`, `Trainer` also shuffles evaluation batches by length, so its rows would come back in an
    order of its own. Here the reviews are sorted by length (batches pad as little as with grouping) and read
    sequentially, then put back in order.
    """
    order = length_order(dataset["length"]) if "length" in dataset.column_names else np.arange(len(dataset))
    strategy = trainer.args.train_sampling_strategy
    trainer.args.train_sampling_strategy = "sequential"  # which also decides the evaluation sampler
    try:
        output = trainer.predict(dataset.select(order), metric_key_prefix="test")
    finally:
        trainer.args.train_sampling_strategy = strategy
    logits = restore_order(logits_of(output), order)
    label_ids = restore_order(output.label_ids, order)
    if not np.array_equal(label_ids, np.asarray(dataset["label"])):
        raise RuntimeError("The test predictions came back in an unexpected order; no predictions file written.")
    return PredictionOutput(predictions=logits, label_ids=label_ids, metrics=output.metrics)
