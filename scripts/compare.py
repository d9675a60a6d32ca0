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
<output_dir>/runs/<approach>/seed-<seed>; re-running the same command reuses finished runs whose recipes (and the
recipes they extend) are unchanged.

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
import sys
from pathlib import Path

from transformers.utils import logging

from evaluation.comparison import CHOICES, DEFAULT_CHOICES, planned_rows, run_comparison, write_comparison
from trainers.arguments import add_dataset_arguments, dataset_source
from trainers.script_logging import setup_logging

logger = logging.get_logger(__name__)

SETTINGS = {"quick": {"max_train_samples": 2000, "max_test_samples": 2000}, "full": {}}


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


def main(args: list[str] | None = None) -> dict:
    arguments = parse_arguments(args)
    setup_logging()
    setting_name = "quick" if arguments.quick else "full"
    sizes = dict(SETTINGS[setting_name])
    for name in ("max_train_samples", "max_test_samples"):
        if getattr(arguments, name) is not None:
            sizes[name] = getattr(arguments, name)
    seeds = [arguments.seed + offset for offset in range(arguments.seeds)]
    output_dir = Path(arguments.output_dir)
    try:
        planned = planned_rows(
            arguments.approaches, arguments.recipe, arguments.base_model, arguments.lstm_variants, arguments.model
        )
        report = run_comparison(
            planned, dataset_source(arguments), sizes, seeds, output_dir, arguments.speed_samples, arguments.device
        )
    except (RuntimeError, OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    command = "python scripts/compare.py " + " ".join(map(str, sys.argv[1:] if args is None else args))
    report = {"setting": setting_name, **report, "command": command}
    print(write_comparison(report, output_dir))
    logger.info(f"Written: {output_dir / 'comparison.md'}, {output_dir / 'comparison.json'}")
    return report


if __name__ == "__main__":
    main()
