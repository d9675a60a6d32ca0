"""Write a Hugging Face Space of the demo (scripts/demo.py) for the models named: a folder that runs by itself.

    python scripts/make_space.py --model lstm=outputs/lstm-imdb --model bert=org/imdb-bert --output_dir space
    python -m venv space-venv && space-venv/bin/pip install -r space/requirements.txt   # try it in a clean environment
    (cd space && ../space-venv/bin/python app.py)                                       # http://127.0.0.1:7860
    hf upload USER/imdb-sentiment space . --repo-type space                             # publish it

Model folders are copied into the Space (as they would be published: no checkpoints), Hub ids are loaded from the
Hub when the Space starts. The Space holds app.py, the demo and the project modules it runs (the project is not on
PyPI), requirements.txt pinning every library to the version installed here (PyTorch's CPU build, from
--torch_index_url), and README.md with the Space's metadata (sdk gradio at the installed version, app_file, models).
"""

import argparse
import sys
from pathlib import Path

from inference.predictor import parse_model_specs
from model_cards.space import TORCH_CPU_INDEX, make_space
from trainers.script_logging import setup_logging


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", action="append", default=[], metavar="NAME=FOLDER_OR_HUB_ID", required=True,
        help="A model the demo offers under NAME: a saved model folder (copied in) or a Hub id. Repeat for several; "
        "the first is the default.",
    )  # fmt: skip
    parser.add_argument("--output_dir", required=True, type=Path, help="The Space's folder: new, or empty.")
    parser.add_argument("--title", default="IMDb sentiment", help="The Space's title.")
    parser.add_argument(
        "--torch_index_url", default=TORCH_CPU_INDEX, help="The index that requirements.txt takes PyTorch from "
        "(default: PyTorch's CPU wheels); '' for PyPI or the installer's own configuration.",
    )  # fmt: skip
    return parser.parse_args(args)


def main(args: list[str] | None = None) -> None:
    arguments = parse_arguments(args)
    setup_logging()
    try:
        make_space(
            parse_model_specs(arguments.model),
            arguments.output_dir,
            arguments.title,
            arguments.torch_index_url or None,
        )
    except (ValueError, OSError) as error:  # SourceError (a model, the folder) is a ValueError
        sys.exit(f"error: {error}")
    print(f"Space written to {arguments.output_dir}: run it with `python app.py` after installing requirements.txt.")


if __name__ == "__main__":
    main()
