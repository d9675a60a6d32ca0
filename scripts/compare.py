"""Train (or load) each approach on the same split and print one table, with linear baselines as reference lines.

    python scripts/compare.py --quick --dataset_name stanfordnlp/imdb --seeds 3
    python scripts/compare.py --full --dataset_name path/to/imdb --base_model verbalizer=path/to/all-MiniLM-L6-v2 \\
        --approaches lstm verbalizer tfidf --model finetuned-minilm=outputs/minilm-imdb
    python scripts/compare.py --full --seeds 3 --approaches lstm lstm_pretrained tfidf \\
        --base_model lstm_pretrained=outputs/lstm-imdb-pretrained

The approaches and their default recipes are those of trainers/approaches.py, the baselines those of
evaluation/baselines.py: `tfidf` (TF-IDF bigrams, compared by default) and `nbsvm` (NB-weighted 1-3-grams, compared
when asked: --approaches lstm tfidf nbsvm). `--recipe NAME=FILE` replaces an approach's recipe,
`--base_model NAME=MODEL` sets the model it starts from (the verbalizer's encoder, the encoder to fine-tune, the
pretraining folder of lstm_pretrained, which has no default).

`--quick` trains every approach on 2,000 training reviews (10% of them for validation) and tests on 2,000 test
reviews: minutes on a GPU (the fine-tune is the slow one on a CPU). `--full` runs each recipe as it is: all 22,500
training reviews and all 25,000 test reviews. Each approach is trained by its own script into
<output_dir>/runs/<approach>/seed-<seed>; re-running the same command reuses finished runs.

Columns: accuracy, F1 (of the positive class; the macro average over three classes or more) and ROC-AUC (two
classes only) on the test split; pair consistency, the share of the project's minimal pairs whose original and edit
are both labelled right (classes named negative and positive only); trainable and total parameters; training wall
time (for a verbalizer, with the encoding of its training and validation reviews); inference reviews/s labelling the
same --speed_samples test reviews with the folder loaded through the Auto classes (batches of 32); size of the
weights on disk. With --seeds N every approach runs N times (seeds --seed, --seed + 1, ...; the validation split and
test subset follow the seed) and each figure is the mean ± standard deviation.

`--model NAME=FOLDER` adds a folder trained elsewhere (e.g. a longer fine-tune): it is measured on this comparison's
test split, from its saved test predictions when they are for the same reviews, else by running it.
Writes comparison.md and comparison.json into --output_dir.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from transformers.utils import logging

from evaluation.baselines import BASELINES
from evaluation.comparison import (
    Row,
    comparison_markdown,
    measure_baseline,
    measure_folder,
    summarize,
    train_run,
)
from inference.predictor import parse_model_specs
from trainers.approaches import APPROACHES
from trainers.arguments import add_dataset_arguments, dataset_command_line, dataset_source, read_recipe_file
from trainers.data import DEFAULT_VALIDATION_FRACTION, load_sentiment_splits
from trainers.script_logging import setup_logging

logger = logging.get_logger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"quick": {"max_train_samples": 2000, "max_test_samples": 2000}, "full": {}}
# The classifiers of the registry (not word vectors or a language model), then the baselines, trained in process.
TRAINED = [name for name, approach in APPROACHES.items() if approach.classifier]
CHOICES = TRAINED + list(BASELINES)
# NBSVM keeps every n-gram (4.7M on IMDB's training reviews, 2.5 GB at its peak): compared only when asked.
DEFAULT_CHOICES = [name for name in TRAINED if APPROACHES[name].compared_by_default] + ["tfidf"]


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    setting = parser.add_mutually_exclusive_group(required=True)
    setting.add_argument("--quick", action="store_true", help="2,000 training and 2,000 test reviews.")
    setting.add_argument("--full", action="store_true", help="The recipes as they are: all reviews.")
    add_dataset_arguments(parser)
    parser.add_argument("--approaches", nargs="+", choices=CHOICES, default=DEFAULT_CHOICES,
                        help="Which approaches to train (default: %(default)s).")  # fmt: skip
    parser.add_argument("--recipe", nargs="+", default=[], metavar="NAME=FILE",
                        help="An approach's recipe, instead of its default (e.g. lstm=configs/lstm.yaml).")  # fmt: skip
    parser.add_argument("--base_model", nargs="+", default=[], metavar="NAME=MODEL", help="The model an approach "
                        "starts from (Hub id or folder), instead of its recipe's: verbalizer=ENCODER, "
                        "finetune=ENCODER, lstm_pretrained=PRETRAINING_FOLDER.")  # fmt: skip
    parser.add_argument("--lstm_variants", nargs="+", default=[], help="Overlays on the lstm recipe, one more row "
                        "each, named by file (e.g. configs/reference/*.yaml).")  # fmt: skip
    parser.add_argument("--model", nargs="+", default=[], metavar="NAME=FOLDER", help="Folders trained elsewhere.")
    parser.add_argument("--seeds", type=int, default=1, help="Runs per approach, for mean ± std (default: 1).")
    parser.add_argument("--seed", type=int, default=42, help="The first seed (default: 42).")
    parser.add_argument("--max_train_samples", type=int, help="Overrides the setting's number of training reviews.")
    parser.add_argument("--max_test_samples", type=int, help="Overrides the setting's number of test reviews.")
    parser.add_argument("--speed_samples", type=int, default=500, help="Test reviews labelled to measure speed.")
    parser.add_argument("--device", default="cpu", help="Device for the speed measurement (default: cpu).")
    parser.add_argument("--output_dir", default="outputs/comparison", help="Where runs and tables go.")
    arguments = parser.parse_args(args)
    for name in ("seeds", "speed_samples", "max_train_samples", "max_test_samples"):
        value = getattr(arguments, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1, got {value}.")
    return arguments


def planned_rows(arguments: argparse.Namespace) -> list[Row]:
    """The rows to train, in table order, then the folders given with --model."""
    recipes = named_values(arguments.recipe, "--recipe", TRAINED)
    base_models = named_values(arguments.base_model, "--base_model", [
        name for name in TRAINED if APPROACHES[name].base_model_key
    ])  # fmt: skip
    rows = []
    for name in arguments.approaches:
        if name in BASELINES:
            rows.append(Row(name))
            continue
        approach = APPROACHES[name]
        recipe = recipes.get(name, str(PROJECT_ROOT / approach.recipe))
        if not Path(recipe).is_file():
            raise ValueError(f"The recipe of {name}, {recipe}, does not exist.")
        extra = [f"--{approach.base_model_key}", base_models[name]] if name in base_models else []
        if approach.base_model_key and not extra and not recipe_value(recipe, approach.base_model_key):
            raise ValueError(f"{name} needs the model it starts from: --base_model {name}=MODEL.")
        rows.append(Row(name, str(PROJECT_ROOT / approach.script), [recipe], extra))
        if name == "lstm":
            rows += [
                Row(Path(variant).stem, rows[-1].script, [recipe, variant]) for variant in arguments.lstm_variants
            ]
    for name, folder in parse_model_specs(arguments.model).items() if arguments.model else ():
        if not Path(folder).is_dir():
            raise ValueError(f"--model {name}={folder}: no such folder.")
        rows.append(Row(name, folder=folder))
    names = [row.name for row in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"Two rows would share a name: {names}.")
    for row in rows:
        for recipe in row.recipes:
            if not Path(recipe).is_file():
                raise ValueError(f"The recipe of {row.name}, {recipe}, does not exist.")
    return rows


def named_values(specs: list[str], option: str, names: list[str]) -> dict[str, str]:
    """`NAME=VALUE` items of `option`, each NAME one of `names`."""
    values = parse_model_specs(specs) if specs else {}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{option} {', '.join(unknown)}: not one of {', '.join(names)}.")
    return values


def recipe_value(recipe: str, key: str):
    """The value a recipe file (with the recipes it extends) sets for `key`, if it sets one."""
    return read_recipe_file(Path(recipe)).get(key)


def main(args: list[str] | None = None) -> dict:
    arguments = parse_arguments(args)
    setup_logging()
    setting_name = "quick" if arguments.quick else "full"
    sizes = dict(SETTINGS[setting_name])
    for name in ("max_train_samples", "max_test_samples"):
        if getattr(arguments, name) is not None:
            sizes[name] = getattr(arguments, name)
    try:
        planned = planned_rows(arguments)
        source = dataset_source(arguments)
    except ValueError as error:
        sys.exit(f"error: {error}")
    data_args = dataset_command_line(source) + ["--validation_fraction", str(DEFAULT_VALIDATION_FRACTION)]
    data_args += [item for name, value in sizes.items() for item in (f"--{name}", str(value))]
    output_dir = Path(arguments.output_dir)
    rows: dict[str, list[dict]] = {row.name: [] for row in planned}
    seeds = [arguments.seed + offset for offset in range(arguments.seeds)]
    for seed in seeds:
        # The split every approach of this seed trains, validates and tests on (the scripts make the same one).
        try:
            splits = load_sentiment_splits(source, validation_fraction=DEFAULT_VALIDATION_FRACTION, seed=seed, **sizes)
        except ValueError as error:
            sys.exit(f"error: {error}")
        speed_texts = list(splits["test"]["text"][: arguments.speed_samples])
        validation_split = str(splits["validation"].split)
        for planned_row in planned:
            if planned_row.folder and seed != seeds[0]:
                continue  # a folder trained elsewhere is one run
            try:
                if planned_row.script is None and planned_row.folder is None:
                    row = measure_baseline(planned_row.name, splits, speed_texts)
                else:
                    folder = Path(planned_row.folder) if planned_row.folder else train_run(
                        planned_row, data_args, seed, output_dir / "runs" / planned_row.name / f"seed-{seed}"
                    )  # fmt: skip
                    row = measure_folder(folder, splits, speed_texts, arguments.device)
            except (RuntimeError, OSError, ValueError) as error:
                sys.exit(f"error: {error}")
            rows[planned_row.name].append({"seed": seed, **row})
            logger.info(f"{planned_row.name}, seed {seed}: test accuracy {row['accuracy']:.4f}")

    command = "python scripts/compare.py " + " ".join(map(str, sys.argv[1:] if args is None else args))
    report = {
        "setting": setting_name, "dataset": source.describe(), "sizes": sizes, "seeds": seeds,
        # The dataset's own validation split, if it has one; None when validation was carved from train.
        "validation_split": None if validation_split == source.train_split_name else validation_split,
        "device": arguments.device,
        "torch_threads": torch.get_num_threads(), "speed_samples": len(speed_texts), "command": command,
        "summary": {name: summarize(runs) for name, runs in rows.items()}, "runs": rows,
    }  # fmt: skip
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = comparison_markdown(report)
    (output_dir / "comparison.md").write_text(markdown)
    print(markdown)
    logger.info(f"Written: {output_dir / 'comparison.md'}, {output_dir / 'comparison.json'}")
    return report


if __name__ == "__main__":
    main()
