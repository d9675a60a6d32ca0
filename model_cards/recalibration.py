"""Calibrating an existing model folder (`scripts/calibrate.py`): the temperature fitted on the validation split its
recipe carved, folded into its weights, and the folder rewritten whole (weights, config, results, test predictions,
model card) or not at all."""

import dataclasses
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml
from huggingface_hub import ModelCard
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from inference.batching import length_sorted_batches
from inference.sources import check_model_folder
from inference.torch_runtime import TorchClassifier, load_torch_model
from trainers.calibration import (
    CHECK_ATOL,
    CHECK_RTOL,
    CHECKED_ROWS,
    CalibrationError,
    calibration_figures,
    calibration_record,
    fit_temperature,
    logit_layer,
    recorded_temperature,
    rescale_probabilities,
    result_entries,
    save_reliability_diagram,
    test_result_entries,
)
from trainers.data import (
    DATA_FILE_FIELDS,
    DATASET_FIELDS,
    DEFAULT_VALIDATION_FRACTION,
    DatasetSource,
    class_names,
    load_sentiment_splits,
)
from trainers.run_folder import (
    CALIBRATION_DIAGRAM_FILE,
    CALIBRATION_TEMPERATURE_KEY,
    CARD_FILE,
    CONFIG_FILE,
    RECIPE_FILE,
    RESULTS_FILE,
    TEST_PREDICTIONS_FILE,
    read_predictions,
    read_results,
    recorded_split_seed,
    write_predictions,
    write_results,
)

from .model_card import write_model_card

WEIGHTS_FILE, WEIGHTS_INDEX_FILE = "model.safetensors", "model.safetensors.index.json"


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
    recorded = {key: recipe[key] for key in (*fields, "validation_fraction", "max_train_samples") if key in recipe}
    recorded["seed"] = recorded_split_seed(recipe)
    for named_here, replaced in ((DATA_FILE_FIELDS, DATASET_FIELDS), (DATASET_FIELDS, DATA_FILE_FIELDS)):
        if set(given) & set(named_here):
            recorded = {key: value for key, value in recorded.items() if key not in replaced}
    settings = {**recorded, **given}
    return {
        "source": DatasetSource(**{name: settings[name] for name in fields if name in settings}),
        "validation_fraction": settings.get("validation_fraction", DEFAULT_VALIDATION_FRACTION),
        "seed": settings["seed"],
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
    test_entries = {}
    if predictions.is_file():
        labels, probabilities, names = read_predictions(predictions)
        predictions.unlink()
        calibrated = rescale_probabilities(probabilities, 1 / temperature)
        write_predictions(predictions, labels, calibrated, names)
        # The file keeps six decimals: a probability written as 0 is taken as the smallest it can stand for.
        test_entries = test_result_entries(np.log(np.maximum(calibrated, 5e-7)), labels, temperature)
    results = read_results(staging)
    if results:
        for loss in ("eval_loss", "test_loss"):  # measured by the run, before calibration
            if loss in results:
                results[f"{loss}_before_calibration"] = results.pop(loss)
        (staging / RESULTS_FILE).unlink()
        write_results(staging, {**results, **result_entries(temperature, figures), **test_entries})
        if (staging / CARD_FILE).is_file() and (staging / RECIPE_FILE).is_file():
            rewrite_card(staging)


def rewrite_card(folder: Path) -> None:
    """The model card generated again from the calibrated folder, under the name the old card gave the model."""
    repo_id = ModelCard.load(folder / CARD_FILE).data.model_name
    (folder / CARD_FILE).unlink()
    write_model_card(folder, **({"repo_id": repo_id} if repo_id else {}))
