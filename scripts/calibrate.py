"""Calibrate a model folder by temperature scaling: fit one temperature on its validation split, fold it into its
weights.

    python scripts/calibrate.py outputs/lstm-imdb                                   # the data its recipe names
    python scripts/calibrate.py outputs/lstm-imdb --dataset_name ../shared/data/imdb   # a local copy of that data

For a folder trained with `--calibrate_temperature false`, or before training calibrated by default. The temperature
T minimises the negative log-likelihood (NLL) of the folder's validation split, carved again as its run carved it:
the data, validation_fraction, seed and max_train_samples of its training_recipe.yaml, which the options below
override (a folder without a recipe takes them from the options alone). T divides the weight and bias of the layer
that outputs the logits, so every door (pipeline, predict.py, the server, the demo, an ONNX export made afterwards)
gives calibrated probabilities; labels do not change. config.json records T and the validation NLL and ECE before
and after; all_results.json, test_predictions.csv and the model card follow, and a reliability diagram is drawn.
The folder is rewritten whole or not at all; an ONNX export in it is removed (export again). A folder already
calibrated is refused. Prints the validation NLL and ECE before and after.
"""

import argparse
import dataclasses
import sys

from model_cards.recalibration import calibrate_folder, folder_recipe, run_data_settings
from trainers.arguments import add_dataset_arguments
from trainers.calibration import describe
from trainers.data import DatasetSource
from trainers.script_logging import setup_logging


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="A local model folder written by a training script (or downloaded).")
    add_dataset_arguments(parser)
    parser.add_argument("--validation_fraction", type=float, help="As in training (default: the recipe's).")
    parser.add_argument(
        "--seed", type=int, help="As in training: it chooses the validation split (default: the recipe's)."
    )
    parser.add_argument("--max_train_samples", type=int, help="As in training (default: the recipe's).")
    parser.add_argument("--batch_size", type=int, default=32, help="Reviews per forward pass (default: 32).")
    parser.add_argument("--device", default="cpu", help="Device, e.g. cpu or cuda (default: cpu).")
    # Unset unless given: the folder's recipe says the rest.
    parser.set_defaults(**dict.fromkeys(item.name for item in dataclasses.fields(DatasetSource)))
    return parser.parse_args(args)


def main(args: list[str] | None = None) -> dict:
    arguments = vars(parse_arguments(args))
    setup_logging()
    folder, batch_size, device = arguments.pop("folder"), arguments.pop("batch_size"), arguments.pop("device")
    given = {key: value for key, value in arguments.items() if value is not None}
    try:
        settings = run_data_settings(folder_recipe(folder), given)
        done = calibrate_folder(folder, **settings, batch_size=batch_size, device=device)
    except (ValueError, OSError) as error:  # CalibrationError and SourceError are ValueErrors
        sys.exit(f"error: {error}")
    print(describe(done["temperature"], done, done["samples"]))
    print(f"Folded into '{done['layer']}' of {folder}.")
    if done["onnx_removed"]:
        print(f"Its ONNX export gave the old scores and was removed: python scripts/export_onnx.py --model {folder}")
    return done


if __name__ == "__main__":
    main()
