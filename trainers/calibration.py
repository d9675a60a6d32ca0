"""Temperature scaling (Guo et al., 2017): calibrated probabilities through every door, labels unchanged.

One temperature T divides every logit. It is fitted on the validation split by minimising its negative
log-likelihood (NLL), a one-dimensional convex problem in 1/T, solved in float64 by bisection on its derivative
(`fit_temperature`). Dividing the logits by T is the same as dividing the weight and bias of the linear layer that
outputs them, so T is folded into that layer (`logit_layer`: `classifier` for the LSTM and the fine-tuned encoders,
the MLP's last layer or the label words' rows for the verbalizer): `pipeline`, the Auto classes in a process
without this project, `scripts/predict.py`, the REST server, the demo and the ONNX export all give the calibrated
probabilities with no code of their own. Since T > 0, the argmax, hence every label, is unchanged.

`config.json` records the temperature (`calibration_temperature`, which also marks the folder as calibrated) and the
validation figures before and after (`calibration_metrics`; the names are `trainers.run_folder`'s), and
`all_results.json` records them as `RESULT_KEYS` for the model card. Training calibrates by default (`calibrate_temperature`, see `calibrate_trainer`); `calibrate_folder`
calibrates a folder written without it (`scripts/calibrate.py`).
"""

import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import yaml
from datasets import Dataset
from huggingface_hub import ModelCard
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedConfig, Trainer

from .batching import length_sorted_batches
from .data import (
    DATA_FILE_FIELDS,
    DATASET_FIELDS,
    DEFAULT_VALIDATION_FRACTION,
    DatasetSource,
    class_names,
    load_sentiment_splits,
)
from .evaluation import calibration, plot_reliability_diagram
from .model_card import write_model_card
from .run_folder import (
    CALIBRATION_DIAGRAM_FILE,
    CALIBRATION_METRICS_KEY,
    CALIBRATION_TEMPERATURE_KEY,
    CARD_FILE,
    CONFIG_FILE,
    RECIPE_FILE,
    RESULTS_FILE,
    TEST_PREDICTIONS_FILE,
    read_predictions,
    read_results,
    unfinished_folder,
    write_predictions,
    write_results,
)
from .sources import check_model_folder
from .torch_runtime import TorchClassifier, load_torch_model

logger = logging.getLogger(__name__)

# The validation figures `all_results.json` keeps for the model card.
RESULT_KEYS = {
    "nll_before": "eval_nll_before_calibration",
    "nll_after": "eval_nll_after_calibration",
    "ece_before": "eval_ece_before_calibration",
    "ece_after": "eval_ece_after_calibration",
}
# The search range of T. The NLL falls toward T = 0 only when every validation review is right, and toward T = inf
# only when the model is no better than chance; the fitted T is then the bound.
TEMPERATURE_BOUNDS = (1e-2, 1e2)
# Validation rows run again after folding, to check that the logits came out divided by T.
CHECKED_ROWS = 64
# How close those logits must be: loose enough for bf16 and fp16, far tighter than a fold in a wrong layer.
CHECK_RTOL, CHECK_ATOL = 1e-2, 1e-3
# The seed of a run whose recipe records none (`TrainingArguments`' default).
DEFAULT_SEED = 42
WEIGHTS_FILE, WEIGHTS_INDEX_FILE = "model.safetensors", "model.safetensors.index.json"
# Layer names that give the logits in this project's models and in transformers' sequence classifiers, preferred in
# this order; otherwise the last linear layer with one output per class (the verbalizer's MLP).
LOGIT_LAYER_NAMES = ("classifier", "classifier.out_proj", "score", "head.label_words")


class CalibrationError(ValueError):
    """A model or folder cannot be calibrated as asked; the one-line message says why."""


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits))


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """The mean NLL of the labels under softmax(logits / temperature), in float64, from the logits (exact: no
    probability is rounded to 0)."""
    log_probabilities = log_softmax(np.asarray(logits, dtype=np.float64) / temperature)
    return float(-log_probabilities[np.arange(len(labels)), np.asarray(labels)].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = TEMPERATURE_BOUNDS) -> float:
    """The T in `bounds` that minimises the mean NLL of the labels under softmax(logits / T), in float64.

    With b = 1/T, the NLL is mean(logsumexp(b z) - b z_label): convex in b, with derivative mean(E_p[z] - z_label),
    which rises with b. The minimum is where the derivative crosses zero, found by bisection on log b to machine
    precision; a derivative of one sign over the whole range puts the minimum at a bound.
    """
    z = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if z.ndim != 2 or z.shape[1] < 2 or len(z) != len(labels) or len(z) == 0:
        raise CalibrationError(f"Temperature scaling needs logits of two classes or more, got shape {z.shape}.")
    true_logits = z[np.arange(len(z)), labels]

    def slope(log_inverse_temperature: float) -> float:
        scaled = np.exp(log_inverse_temperature)
        return float(((softmax(scaled * z) * z).sum(axis=1) - true_logits).mean())

    low, high = -np.log(bounds[1]), -np.log(bounds[0])  # log(1/T) at the largest and at the smallest T
    if slope(low) >= 0:
        return bounds[1]
    if slope(high) <= 0:
        return bounds[0]
    while high - low > 1e-13:
        middle = (low + high) / 2
        low, high = (low, middle) if slope(middle) > 0 else (middle, high)
    return float(np.exp(-(low + high) / 2))


def calibration_figures(logits: np.ndarray, labels: np.ndarray, temperature: float, bins: int = 10) -> dict:
    """Validation NLL and ECE before and after dividing the logits by `temperature`, with the reliability bins of
    each (`trainers.evaluation.calibration`)."""
    logits = np.asarray(logits, dtype=np.float64)
    before = calibration(labels, softmax(logits), bins)
    after = calibration(labels, softmax(logits / temperature), bins)
    return {
        "nll_before": negative_log_likelihood(logits, labels),
        "nll_after": negative_log_likelihood(logits, labels, temperature),
        "ece_before": before["expected_calibration_error"],
        "ece_after": after["expected_calibration_error"],
        "bins_before": before,
        "bins_after": after,
    }


def rescale_probabilities(probabilities: np.ndarray, power: float) -> np.ndarray:
    """softmax(power * log p): the probabilities of logits multiplied by `power`, from the probabilities alone
    (softmax forgets only a constant per row). `power` 1/T calibrates; T undoes a calibration. A probability of 0
    stays 0."""
    with np.errstate(divide="ignore"):
        log_probabilities = np.log(np.asarray(probabilities, dtype=np.float64))
    return softmax(power * log_probabilities)


def recorded_temperature(config: dict | PreTrainedConfig) -> float | None:
    """The temperature a model's config says is folded into its weights, or None for an uncalibrated model."""
    value = (
        config.get(CALIBRATION_TEMPERATURE_KEY)
        if isinstance(config, dict)
        else getattr(config, CALIBRATION_TEMPERATURE_KEY, None)
    )
    return None if value is None else float(value)


def folder_temperature(model: str) -> float | None:
    """`recorded_temperature` of a local model folder or, when it can be fetched, a Hub model."""
    path = Path(model) / CONFIG_FILE
    if not path.is_file():
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(model, CONFIG_FILE))
        except Exception:  # not a Hub model, offline, or no config: nothing recorded that can be read
            return None
    return recorded_temperature(json.loads(path.read_text()))


def logit_layer(model: nn.Module, num_labels: int) -> str:
    """The name of the linear layer whose outputs are the model's class logits; a `CalibrationError` if there is
    none. Whether dividing its weights divides the logits is checked by the callers, on real rows."""
    candidates = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and module.out_features == num_labels
    ]
    preferred = [name for name in LOGIT_LAYER_NAMES if name in candidates]
    if preferred:
        return preferred[0]
    if candidates:
        return candidates[-1]
    raise CalibrationError(
        f"The {type(model).__name__} model has no linear layer with {num_labels} outputs to fold a temperature into."
    )


def scale_layer(model: nn.Module, layer: str, factor: float) -> None:
    """Multiplies the weight and bias of `layer` by `factor` in place."""
    module = model.get_submodule(layer)
    with torch.no_grad():
        module.weight.mul_(factor)
        if module.bias is not None:
            module.bias.mul_(factor)


def calibration_record(temperature: float, figures: dict, layer: str, samples: int) -> dict:
    """What `config.json` records: the temperature, and under `CALIBRATION_METRICS_KEY` how it was fitted and what it did."""
    return {
        CALIBRATION_TEMPERATURE_KEY: temperature,
        CALIBRATION_METRICS_KEY: {
            "method": "temperature scaling",
            "fitted_on": "validation",
            "samples": samples,
            "folded_into": layer,
            **{key: figures[key] for key in RESULT_KEYS},
        },
    }


def result_entries(temperature: float, figures: dict) -> dict:
    """What `all_results.json` records, for the model card."""
    return {CALIBRATION_TEMPERATURE_KEY: temperature, **{name: figures[key] for key, name in RESULT_KEYS.items()}}


def save_reliability_diagram(figures: dict, temperature: float, folder: Path) -> Path:
    """The validation reliability diagram, before and after scaling, as `CALIBRATION_DIAGRAM_FILE` in `folder`."""
    path = folder / CALIBRATION_DIAGRAM_FILE
    title = f"validation, temperature {temperature:.3f}"
    plot_reliability_diagram(figures["bins_after"], path, title, before=figures["bins_before"])
    return path


def describe(temperature: float, figures: dict, samples: int) -> str:
    return (
        f"Temperature scaling on {samples:,} validation reviews: T = {temperature:.4f}; NLL {figures['nll_before']:.4f} "
        f"-> {figures['nll_after']:.4f}, ECE {figures['ece_before']:.4f} -> {figures['ece_after']:.4f}"
    )


def calibrate_trainer(trainer: Trainer, validation: Dataset) -> dict:
    """Fits the temperature on the validation logits of `trainer.model` (the checkpoint training chose), folds it
    into the model's logit layer, records it in the model's config, draws the reliability diagram into the run's
    unfinished folder, and returns the entries for `all_results.json`.

    Returns `{}` and leaves the model as it was, with a warning saying so, where the fold cannot be made or checked
    here (sharded weights under FSDP or DeepSpeed; a model whose logits do not scale with that layer): the folder
    can still be calibrated afterwards with scripts/calibrate.py.
    """
    # Imported here: `training` calls this module, and `predict_in_order` is the one way it reads rows in order.
    from .training import logits_of, predict_in_order

    model = trainer.model
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        logger.warning("Not calibrated: the weights are sharded; run scripts/calibrate.py on the saved folder.")
        return {}
    if model.config.problem_type not in (None, "single_label_classification"):
        logger.warning(
            f"Not calibrated: temperature scaling is for softmax classifiers, not {model.config.problem_type}."
        )
        return {}
    output = predict_in_order(trainer, validation)
    logits, labels = logits_of(output).astype(np.float64), output.label_ids
    try:
        temperature = fit_temperature(logits, labels)
        layer = logit_layer(model, logits.shape[1])
    except CalibrationError as error:
        logger.warning(f"Not calibrated: {error}")
        return {}
    figures = calibration_figures(logits, labels, temperature)
    scale_layer(model, layer, 1 / temperature)
    checked = validation.select(range(min(CHECKED_ROWS, len(validation))))
    folded = logits_of(predict_in_order(trainer, checked))
    if not np.allclose(folded, logits[: len(checked)] / temperature, rtol=CHECK_RTOL, atol=CHECK_ATOL):
        scale_layer(model, layer, temperature)
        logger.warning(f"Not calibrated: dividing the weights of '{layer}' did not divide the logits by T.")
        return {}
    for key, value in calibration_record(temperature, figures, layer, len(labels)).items():
        setattr(model.config, key, value)
    if trainer.is_world_process_zero():
        folder = unfinished_folder(trainer.args.output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        save_reliability_diagram(figures, temperature, folder)
    logger.info(describe(temperature, figures, len(labels)))
    return result_entries(temperature, figures)


# scripts/calibrate.py: an existing folder.


def folder_config(folder: str | Path) -> dict:
    """The config of a local model folder that can be calibrated; a one-line error if it is missing, not a model
    folder, or already calibrated."""
    check_model_folder(str(folder), may_be_hub_id=False)
    config = json.loads((Path(folder) / CONFIG_FILE).read_text())
    temperature = recorded_temperature(config)
    if temperature is not None:
        raise CalibrationError(
            f"'{folder}' is already calibrated: its weights divide the logits by T = {temperature:.4f} "
            f"({CALIBRATION_TEMPERATURE_KEY} in {CONFIG_FILE}); fitting again would scale calibrated scores, so it is refused."
        )
    return config


def folder_recipe(folder: str | Path) -> dict:
    """The folder's `training_recipe.yaml`, or `{}` for a folder without one (a Hub download)."""
    path = Path(folder) / RECIPE_FILE
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def run_data_settings(recipe: dict, given: dict) -> dict:
    """The data settings of `calibrate_folder` (source, validation_fraction, seed, max_train_samples): those the
    run recorded in its recipe, so that its own validation split is carved again, overridden by `given`. As in
    training, a dataset given replaces the recipe's data files, and data files given replace its dataset."""
    fields = [item.name for item in dataclasses.fields(DatasetSource)]
    recorded = {
        key: recipe[key] for key in (*fields, "validation_fraction", "seed", "max_train_samples") if key in recipe
    }
    for named_here, replaced in ((DATA_FILE_FIELDS, DATASET_FIELDS), (DATASET_FIELDS, DATA_FILE_FIELDS)):
        if set(given) & set(named_here):
            recorded = {key: value for key, value in recorded.items() if key not in replaced}
    settings = {**recorded, **given}
    return {
        "source": DatasetSource(**{name: settings[name] for name in fields if name in settings}),
        "validation_fraction": settings.get("validation_fraction", DEFAULT_VALIDATION_FRACTION),
        "seed": settings.get("seed", DEFAULT_SEED),
        "max_train_samples": settings.get("max_train_samples"),
    }


def model_logits(tokenizer, classifier: TorchClassifier, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """The logits of a model loaded by `load_torch_model` (as its users load it) on `texts`, cut by its tokenizer."""
    logits = np.zeros((len(texts), len(classifier.id2label)), dtype=np.float32)
    for batch in length_sorted_batches([len(text) for text in texts], batch_size):
        encoded = tokenizer([texts[i] for i in batch], truncation=True, padding=True, return_tensors="np")
        logits[batch] = classifier(dict(encoded))
    return logits


def scale_weights_file(folder: Path, layer: str, factor: float) -> None:
    """Multiplies the weight and bias of `layer` by `factor` in the folder's safetensors weights (one file or
    shards), each file rewritten whole under a new name and renamed over the old one, its metadata kept."""
    keys = [f"{layer}.weight", f"{layer}.bias"]
    index = folder / WEIGHTS_INDEX_FILE
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        files = sorted({weight_map[key] for key in keys if key in weight_map})
    else:
        files = [WEIGHTS_FILE] if (folder / WEIGHTS_FILE).is_file() else []
    found = False
    for name in files:
        path = folder / name
        with safe_open(path, framework="pt") as weights:
            metadata = weights.metadata()
        tensors = load_file(path)
        for key in keys:
            if key in tensors:
                found = True
                tensors[key] = (tensors[key].double() * factor).to(tensors[key].dtype)
        written = path.with_name(path.name + ".new")
        save_file(tensors, written, metadata=metadata)
        written.replace(path)
    if not found:
        raise CalibrationError(f"'{folder}' has no safetensors weights named {keys[0]} to fold the temperature into.")


def link_or_copy(source: str, destination: str) -> None:
    """A hard link (no copy of large weights or checkpoints), or a copy where the file system has none."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def write_anew(path: Path, text: str) -> None:
    """Writes `path` as a new file: a hard link shared with the original folder is replaced, never written
    through."""
    path.unlink(missing_ok=True)
    path.write_text(text)


def calibrate_folder(
    folder: str | Path,
    source: DatasetSource,
    validation_fraction: float,
    seed: int,
    max_train_samples: int | None = None,
    batch_size: int = 32,
    device: str = "cpu",
) -> dict:
    """Fits the temperature on the folder's validation split (as `load_sentiment_splits` carves it with these
    settings: those of its recipe give the run's own) and rewrites the folder calibrated. Returns what it did.

    The new folder is composed beside the old one (`FOLDER.calibrating`, unchanged files hard-linked), checked
    (reloaded, its logits on validation rows must be the old ones divided by T), then put in place of the old one
    by two renames; a failure before that leaves the folder untouched. Rewritten: the weights, `config.json`
    (`calibration_record`), the reliability diagram, and, when the folder has them, `all_results.json` (the
    calibration figures; the run's `eval_loss` and `test_loss`, measured before calibration, get the suffix
    `_before_calibration`), `test_predictions.csv` (rescaled by `rescale_probabilities`, exact up to the file's six decimals) and the model
    card. An ONNX export (`onnx/`) would give the old scores, so it is removed: export again.
    """
    folder = Path(folder)
    config = folder_config(folder)
    splits = load_sentiment_splits(source, validation_fraction, seed, max_train_samples)
    classes = [config["id2label"][str(index)] for index in range(len(config["id2label"]))]
    if classes != class_names(splits):
        raise CalibrationError(
            f"The model's classes {classes} are not the dataset's {class_names(splits)}: calibrate it on its own data."
        )
    validation = splits["validation"]
    texts, labels = list(validation["text"]), np.array(validation["label"])
    tokenizer, classifier = load_torch_model(str(folder), device)
    layer = logit_layer(classifier.model, len(classes))
    logits = model_logits(tokenizer, classifier, texts, batch_size).astype(np.float64)
    temperature = fit_temperature(logits, labels)
    figures = calibration_figures(logits, labels, temperature)

    onnx_removed = (folder / "onnx").is_dir()
    staging = folder.with_name(folder.name + ".calibrating")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(folder, staging, copy_function=link_or_copy, symlinks=True)
    try:
        rewrite_calibrated(staging, config, layer, temperature, figures, len(labels))
        checked = min(CHECKED_ROWS, len(texts))
        folded = model_logits(*load_torch_model(str(staging), device), texts[:checked], batch_size)
        if not np.allclose(folded, logits[:checked] / temperature, rtol=CHECK_RTOL, atol=CHECK_ATOL):
            raise CalibrationError(
                f"Dividing the weights of '{layer}' did not divide the logits by T: not calibrated."
            )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = folder.with_name(folder.name + ".uncalibrated")
    shutil.rmtree(previous, ignore_errors=True)
    folder.rename(previous)
    staging.rename(folder)
    shutil.rmtree(previous)
    return {
        "temperature": temperature,
        "layer": layer,
        "samples": len(labels),
        "onnx_removed": onnx_removed,
        **figures,
    }


def rewrite_calibrated(
    staging: Path, config: dict, layer: str, temperature: float, figures: dict, samples: int
) -> None:
    """Writes the calibrated files into `staging` (see `calibrate_folder`), folding into `layer`."""
    scale_weights_file(staging, layer, 1 / temperature)
    record = calibration_record(temperature, figures, layer, samples)
    write_anew(staging / CONFIG_FILE, json.dumps({**config, **record}, indent=2, sort_keys=True) + "\n")
    (staging / CALIBRATION_DIAGRAM_FILE).unlink(missing_ok=True)
    save_reliability_diagram(figures, temperature, staging)
    shutil.rmtree(staging / "onnx", ignore_errors=True)
    predictions = staging / TEST_PREDICTIONS_FILE
    if predictions.is_file():
        labels, probabilities, names = read_predictions(predictions)
        predictions.unlink()
        write_predictions(predictions, labels, rescale_probabilities(probabilities, 1 / temperature), names)
    results = read_results(staging)
    if results:
        for loss in ("eval_loss", "test_loss"):  # measured by the run, before calibration
            if loss in results:
                results[f"{loss}_before_calibration"] = results.pop(loss)
        (staging / RESULTS_FILE).unlink()
        write_results(staging, {**results, **result_entries(temperature, figures)})
        if (staging / CARD_FILE).is_file() and (staging / RECIPE_FILE).is_file():
            rewrite_card(staging)


def rewrite_card(folder: Path) -> None:
    """The model card generated again from the calibrated folder, under the name the old card gave the model."""
    repo_id = ModelCard.load(folder / CARD_FILE).data.model_name
    (folder / CARD_FILE).unlink()
    write_model_card(folder, **({"repo_id": repo_id} if repo_id else {}))
