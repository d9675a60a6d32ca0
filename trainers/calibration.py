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

import json
import logging
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from torch import nn
from transformers import PreTrainedConfig, Trainer, TrainingArguments

from .figures import plot_reliability_diagram
from .metrics import calibration
from .run_folder import (
    CALIBRATION_DIAGRAM_FILE,
    CALIBRATION_METRICS_KEY,
    CALIBRATION_TEMPERATURE_KEY,
    CONFIG_FILE,
    unfinished_folder,
)

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
# How close those logits must be in float32: far tighter than a fold in a wrong layer.
CHECK_RTOL, CHECK_ATOL = 1e-2, 1e-3
# Under bf16 or fp16 the logits come out rounded, and a review's batch-mates change the rounding: a fine-tuned
# MiniLM's logits near 0 moved by 0.009 when the largest was 1.8. There the check allows 2% of the largest logit.
MIXED_PRECISION_ATOL_SHARE = 2e-2
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
    each (`evaluation.report.calibration`)."""
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


def test_result_entries(calibrated_logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    """The test split's NLL and ECE before and after the temperature fitted on validation (`RESULT_KEYS` with `test_`
    for `eval_`), from the logits of the calibrated model: multiplied by T they are the uncalibrated model's. How
    well a temperature chosen on validation carries over to reviews it never saw."""
    calibrated_logits = np.asarray(calibrated_logits, dtype=np.float64)
    figures = calibration_figures(calibrated_logits * temperature, labels, temperature)
    return {name.replace("eval_", "test_", 1): figures[key] for key, name in RESULT_KEYS.items()}


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


def runs_in_mixed_precision(args: TrainingArguments) -> bool:
    return any((args.bf16, args.fp16, args.bf16_full_eval, args.fp16_full_eval))


def logits_were_divided(folded: np.ndarray, expected: np.ndarray, mixed_precision: bool) -> bool:
    """Whether the logits after folding are those before divided by T, as closely as the precision allows."""
    atol = MIXED_PRECISION_ATOL_SHARE * np.abs(expected).max() if mixed_precision else CHECK_ATOL
    return np.allclose(folded, expected, rtol=CHECK_RTOL, atol=atol)


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
    if not logits_were_divided(folded, logits[: len(checked)] / temperature, runs_in_mixed_precision(trainer.args)):
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
