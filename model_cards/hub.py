"""Publishing a trained model folder to the Hugging Face Hub, failing fast and clearly when that cannot work."""

from pathlib import Path

import httpx2
from huggingface_hub import HfApi, constants, get_token
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status
from transformers import TrainingArguments

from trainers.run_folder import RECIPE_FILE, UNFINISHED_DIR

# The Trainer's resumable checkpoints and a run still in progress stay local; pickles never leave the machine; the
# run's recipe holds paths of the training machine, and the model card shows it without them.
IGNORE_PATTERNS = [
    "checkpoint-*", "checkpoint-*/**", f"{UNFINISHED_DIR}/**", "*.bin", "*.pt", "*.pth", "*.pkl", "runs/**", RECIPE_FILE
]  # fmt: skip
ACCESS_TIMEOUT_SECONDS = 10.0


class HubAccessError(RuntimeError):
    """The Hub cannot be used for publishing; the message says why and what to do."""


def check_hub_access(token: str | None = None, timeout: float = ACCESS_TIMEOUT_SECONDS) -> str:
    """Returns the user name the token belongs to, or raises `HubAccessError` within about `timeout` seconds.

    One request without retries: `huggingface_hub` itself would wait without a time limit on an unreachable host.
    """
    token = token or get_token()
    if not token:
        raise HubAccessError(
            "No Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access is needed)."
        )
    url = f"{constants.ENDPOINT}/api/whoami-v2"
    try:
        response = get_session().get(url, headers=build_hf_headers(token=token), timeout=timeout)
        hf_raise_for_status(response)
    except OfflineModeIsEnabled as error:
        raise HubAccessError("HF_HUB_OFFLINE is set, so nothing can be published: unset it first.") from error
    except HfHubHTTPError as error:
        status = error.response.status_code
        if status in (401, 403):
            raise HubAccessError(
                f"The Hub at {constants.ENDPOINT} refused the token (HTTP {status}): check HF_TOKEN or run "
                "`hf auth login --force` with a token that has write access."
            ) from error
        raise HubAccessError(f"The Hub at {constants.ENDPOINT} answered HTTP {status}: {error}") from error
    except httpx2.TransportError as error:
        raise HubAccessError(
            f"Cannot reach the Hub at {constants.ENDPOINT} ({type(error).__name__}: {error}). "
            "Check the network connection, or HF_ENDPOINT if you set it."
        ) from error
    return response.json().get("name", "")


def files_to_upload(folder: str | Path) -> list[Path]:
    """The files of `folder` that `publish` uploads, relative to it (checkpoints and pickles left out)."""
    folder = Path(folder)
    skipped = set()
    for pattern in IGNORE_PATTERNS:
        skipped.update(folder.glob(pattern))
    return sorted(
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file() and not any(parent in skipped for parent in (path, *path.parents))
    )


def publish(
    folder: str | Path,
    repo_id: str | None,
    private: bool | None = None,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str = "Upload model trained with imdb-sentiment",
    create_pr: bool = False,
    timeout: float = ACCESS_TIMEOUT_SECONDS,
) -> str:
    """Creates `repo_id` if needed and uploads `folder` to it (on branch `revision`, or as a pull request).

    Returns the URL of the commit or of the pull request.
    """
    if not repo_id:
        raise HubAccessError("No repository named: pass the Hub repo id (e.g. --hub_model_id user/imdb-lstm).")
    check_hub_access(token, timeout)
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision and revision != "main" and not create_pr:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        revision=revision,
        commit_message=commit_message,
        create_pr=create_pr,
        ignore_patterns=IGNORE_PATTERNS,
    )
    return commit.pr_url if create_pr else commit.commit_url


def claim_push(args: TrainingArguments) -> bool:
    """Takes `--push_to_hub` from the `Trainer` (whose own push would upload every checkpoint with a generic card)
    and returns whether the training script must publish the final folder itself. Checks the repository name and,
    on the main process, the token before any training, so that a run never fails only at its end."""
    push_to_hub, args.push_to_hub = args.push_to_hub, False
    if push_to_hub and not args.hub_model_id:
        raise HubAccessError("--push_to_hub needs --hub_model_id, the repository to publish to (e.g. user/imdb-lstm).")
    if push_to_hub and args.process_index == 0:
        check_hub_access(args.hub_token)
    return push_to_hub


def publish_run(args: TrainingArguments) -> str:
    """Publishes the run's `output_dir` as `hub_model_id`, with the run's Hub settings; returns the commit URL."""
    return publish(
        args.output_dir, args.hub_model_id, private=args.hub_private_repo, token=args.hub_token,
        revision=args.hub_revision,
    )  # fmt: skip
