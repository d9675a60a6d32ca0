"""The training machinery every approach shares: tokenized splits, metrics, `Trainer`, one final test evaluation."""

import json
import time
from collections.abc import Callable
from pathlib import Path

import evaluate
import numpy as np
import torch
import yaml
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
from transformers.dynamic_module_utils import custom_object_save
from transformers.trainer_utils import PredictionOutput

from models import SortedTextClassificationPipeline, TruncatingTokenizer

from .arguments import training_script
from .batching import length_order, restore_order

METRICS_MODULE = Path(__file__).parent / "sentiment_metrics"
# The tasks under which `pipeline()` finds a folder's own pipeline class, and the Auto class it loads the model with.
PIPELINE_TASKS = ("sentiment-analysis", "text-classification")
AUTO_CLASS = "AutoModelForSequenceClassification"
RESULTS_FILE = "all_results.json"
RECIPE_FILE = "training_recipe.yaml"
# Class probabilities of every test review, in the test split's order, with its label: what `scripts/compare.py`
# and `scripts/evaluate_model.py` compute ROC-AUC and calibration from without running the model again.
TEST_PREDICTIONS_FILE = "test_predictions.csv"


def build_tokenizer_once(
    args: TrainingArguments, build_tokenizer: Callable[[], PreTrainedTokenizerBase]
) -> PreTrainedTokenizerBase:
    """Builds the tokenizer on the main process only, saves it in `output_dir`, and loads it on every other process.

    Every rank then holds the same vocabulary by construction, and the work is done once. Under several machines,
    `output_dir` must be storage that all of them see.
    """
    with args.main_process_first(local=False, desc="building the tokenizer"):
        if args.process_index == 0:
            tokenizer = build_tokenizer()
            tokenizer.save_pretrained(args.output_dir)
            return tokenizer
        return TruncatingTokenizer.from_pretrained(args.output_dir)


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


def make_compute_metrics():
    """`compute_metrics` for `Trainer`: accuracy, precision, recall and F1 from the logits' argmax."""
    metric = load_sentiment_metrics()

    def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
        return metric.compute(predictions=np.argmax(logits_of(prediction), axis=-1), references=prediction.label_ids)

    return compute_metrics


class SentimentTrainer(Trainer):
    """A `Trainer` whose optimizer gives the base model's parameters `base_model_learning_rate_ratio` times the
    learning rate (the scheduler then scales each rate alike), so pretrained layers can move more slowly than a new
    head."""

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
) -> Trainer:
    """A `Trainer` that evaluates on the validation split and keeps the checkpoint that validation prefers.

    Batches are token ids padded per batch unless `data_collator` says otherwise (cached features are stacked).
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
        compute_metrics=make_compute_metrics(),
        callbacks=callbacks,
    )


def train_and_evaluate(
    trainer: Trainer, tokenized: DatasetDict, recipe: dict, extra_results: dict | None = None
) -> dict[str, float]:
    """Trains, evaluates the chosen checkpoint on validation, then once on test, and saves a Hub-ready folder.

    The folder (`output_dir`) gets the model (safetensors, config with `auto_map`, code files), the tokenizer, the
    trainer state (training curves), `training_recipe.yaml` (the run's arguments, which its training script takes
    back) and `all_results.json`: validation and test metrics, training wall time, training reviews/s, parameter
    count and number of processes, and `extra_results` (what the run measured before training).
    """
    started = time.perf_counter()
    train_output = trainer.train()
    train_seconds = time.perf_counter() - started
    epochs = trainer.state.epoch or 0.0
    train_metrics = {
        "train_loss": train_output.training_loss,
        "train_runtime_seconds": train_seconds,
        # Reviews actually seen (epochs run, early stopping included) per second of training, validation included.
        "train_reviews_per_second": len(tokenized["train"]) * epochs / train_seconds,
        "epochs": epochs,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "num_parameters": trainer.model.num_parameters(),
        "num_trainable_parameters": trainer.model.num_parameters(only_trainable=True),
        "train_samples": len(tokenized["train"]),
        "num_processes": trainer.args.world_size,
    }
    eval_metrics = trainer.evaluate(tokenized["validation"], metric_key_prefix="eval")
    eval_metrics["eval_samples"] = len(tokenized["validation"])
    # `predict`, not `evaluate`: the test split must not reach callbacks such as early stopping.
    test_output = predict_in_order(trainer, tokenized["test"])
    test_metrics = {**test_output.metrics, "test_samples": len(tokenized["test"])}

    results = {**(extra_results or {}), **train_metrics, **eval_metrics, **test_metrics}
    output_dir = Path(trainer.args.output_dir)
    trainer.save_model(str(output_dir))  # on every process: FSDP gathers the weights collectively
    if trainer.is_world_process_zero():
        ship_sorting_pipeline(trainer.model, output_dir)
        trainer.save_state()
        # `Trainer` pickles its arguments; the Hub folder holds no pickle, and the recipe says the same in YAML.
        (output_dir / "training_args.bin").unlink(missing_ok=True)
        header = f"# The arguments of this run. Re-run it: python {training_script(recipe)} training_recipe.yaml\n"
        (output_dir / RECIPE_FILE).write_text(header + yaml.safe_dump(recipe, sort_keys=False))
        (output_dir / RESULTS_FILE).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        write_predictions(output_dir / TEST_PREDICTIONS_FILE, test_output, trainer.model.config.id2label)
    return results


def ship_sorting_pipeline(model: PreTrainedModel, folder: Path) -> None:
    """Makes `pipeline("sentiment-analysis", model=folder, trust_remote_code=True)` use the project's
    `SortedTextClassificationPipeline` (length-sorted batches, truncation by default): its file goes into the folder
    and `config.json` names it under `custom_pipelines`.

    Only for models that load through remote code anyway (the LSTM, the verbalizer): on a stock architecture a custom
    pipeline would make `pipeline()` demand `trust_remote_code=True`, which its users need not give today.
    """
    if type(model)._auto_class is None:
        return
    implementation = f"pipeline_sentiment.{SortedTextClassificationPipeline.__name__}"
    entry = {"impl": implementation, "pt": [AUTO_CLASS], "type": "text"}
    model.config.custom_pipelines = {task: dict(entry) for task in PIPELINE_TASKS}
    model.config.save_pretrained(folder)
    custom_object_save(SortedTextClassificationPipeline, folder)


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


def write_predictions(path: Path, output: PredictionOutput, id2label: dict[int, str]) -> None:
    """Writes each row's label and class probabilities (softmax of the logits) as CSV, with a header."""
    probabilities = torch.softmax(torch.as_tensor(logits_of(output), dtype=torch.float64), dim=-1).numpy()
    header = ",".join(["label"] + [id2label[index] for index in range(probabilities.shape[1])])
    rows = np.column_stack([output.label_ids, probabilities])
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt=["%d"] + ["%.6f"] * probabilities.shape[1])


def read_predictions(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """What `write_predictions` wrote: the labels, the class probabilities and the class names."""
    with open(path) as stream:
        header = stream.readline().strip().split(",")
    if len(header) < 3 or header[0] != "label":
        raise ValueError(f"{path} is not a predictions file: its header should be label,<class>,<class>...")
    rows = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return rows[:, 0].astype(int), rows[:, 1:], header[1:]
