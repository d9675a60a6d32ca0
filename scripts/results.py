"""Print a Markdown table of finished run folders, from what each run recorded: the tables of the README and
docs/results.md, so that each of their figures comes from a command.

    python scripts/results.py accuracy --runs "LSTM (configs/lstm.yaml)" outputs/lstm-s42 outputs/lstm-s43 \\
        outputs/lstm-s44 --runs "semi-supervised LSTM" outputs/ss-s42 outputs/ss-s43 outputs/ss-s44
    python scripts/results.py calibration --runs "LSTM" outputs/lstm-s42 outputs/lstm-s43 outputs/lstm-s44

Each --runs is one row: a label, then the run folders of its seeds; each figure is the mean ± standard deviation over
them (one run: its value). Tables:

- accuracy: test and validation accuracy, training minutes (the `Trainer` run), pretraining minutes (the folder the
  run started from, `pretrained_model_name_or_path`, when it is a run folder on this machine), epochs run;
- calibration: the temperature fitted on validation, and the validation and test ECE and the test NLL before and after
  it (runs trained with `calibrate_temperature`, the default).

The runs' figures come from each folder's all_results.json: they are as measured when the run trained, under whatever
load the machine had then (say which beside the table). Writes the figures as JSON with --output_file.
"""

import argparse
import json
import sys

from evaluation.run_tables import TABLES, results_markdown, results_table


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", choices=sorted(TABLES), help="Which table to print.")
    parser.add_argument("--runs", nargs="+", action="append", required=True, metavar="LABEL FOLDER",
                        help="A row: its label, then one or more run folders (its seeds).")  # fmt: skip
    parser.add_argument("--output_file", help="Also write the figures as JSON to this file.")
    arguments = parser.parse_args(args)
    for group in arguments.runs:
        if len(group) < 2:
            parser.error(f"--runs {group[0]!r} names no folder: --runs LABEL FOLDER [FOLDER ...].")
    labels = [group[0] for group in arguments.runs]
    if len(set(labels)) != len(labels):
        parser.error(f"Two rows share a label: {labels}.")
    return arguments


def main(args: list[str] | None = None) -> dict:
    arguments = parse_arguments(args)
    groups = {group[0]: group[1:] for group in arguments.runs}
    try:
        summaries = results_table(groups, arguments.table)
    except (ValueError, OSError, KeyError) as error:
        sys.exit(f"error: {error}")
    print(results_markdown(summaries, arguments.table), end="")
    if arguments.output_file:
        with open(arguments.output_file, "w") as file:
            json.dump(summaries, file, indent=2)
    return summaries


if __name__ == "__main__":
    main()
