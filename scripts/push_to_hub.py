"""Publish a trained model folder to the Hugging Face Hub, with a model card generated from its own results.

    python scripts/push_to_hub.py outputs/lstm-imdb --repo_id user/imdb-lstm --dry_run
    python scripts/push_to_hub.py outputs/lstm-imdb --repo_id user/imdb-lstm [--private] [--create_pr]

The card (README.md) is written into the folder and checked offline first: its metadata must parse into a valid
model-index whose numbers equal all_results.json. `--dry_run` stops there, having written and checked the exact
folder that would be uploaded. Without a usable token or network, it stops within seconds and says why.
"""

import argparse
import sys

from transformers.utils import logging

from inference.sources import check_model_folder
from model_cards.hub import ACCESS_TIMEOUT_SECONDS, HubAccessError, files_to_upload, publish
from model_cards.model_card import write_model_card
from trainers.script_logging import setup_logging

logger = logging.get_logger(__name__)


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="A model folder written by scripts/train.py.")
    parser.add_argument("--repo_id", required=True, help="Hub repository, e.g. user/imdb-lstm (created if needed).")
    parser.add_argument("--private", action="store_true", help="Create the repository as private.")
    parser.add_argument("--revision", default="main", help="Branch to push to (created if needed).")
    parser.add_argument("--commit_message", default="Upload model trained with imdb-sentiment", help="Commit message.")
    parser.add_argument("--create_pr", action="store_true", help="Open a pull request instead of pushing.")
    parser.add_argument(
        "--comparison", help="A comparison.json written by scripts/compare.py, whose table the card then shows."
    )
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or the token saved by `hf auth login`).")
    parser.add_argument(
        "--timeout", type=float, default=ACCESS_TIMEOUT_SECONDS, help="Seconds to wait for the Hub to answer."
    )
    parser.add_argument("--dry_run", action="store_true", help="Write and check the folder; upload nothing.")
    options = parser.parse_args(args)
    setup_logging()

    try:
        check_model_folder(options.folder, may_be_hub_id=False)
        card_path = write_model_card(
            options.folder, repo_id=options.repo_id, revision=options.revision, comparison=options.comparison
        )
    except (FileNotFoundError, ValueError) as error:
        parser.exit(1, f"error: {error}\n")
    logger.info(f"Model card written and checked: {card_path}")
    uploads = files_to_upload(options.folder)
    if options.dry_run:
        print(f"Dry run: nothing uploaded. These {len(uploads)} files would go to {options.repo_id}:")
        print("\n".join(f"  {path}" for path in uploads))
        return 0
    try:
        url = publish(
            options.folder,
            options.repo_id,
            private=options.private or None,
            token=options.token,
            revision=options.revision,
            commit_message=options.commit_message,
            create_pr=options.create_pr,
            timeout=options.timeout,
        )
    except HubAccessError as error:
        parser.exit(1, f"error: {error}\n")
    logger.info(f"Published {len(uploads)} files: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
