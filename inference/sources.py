"""Where a dataset or a model is read from, a local path or a Hub id, and one-line errors naming it when it cannot be.

`check_model_folder` is the one check of a model folder, run before anything loads one (scripts/predict.py,
serve.py, evaluate_model.py and demo.py through `load_predictor`, scripts/push_to_hub.py, and the encoders of
scripts/finetune.py and train_verbalizer.py): `from_pretrained` would otherwise take a missing folder for a Hub id
and answer about invalid repo ids, or fail deep in a traceback.
"""

import json
from pathlib import Path

from huggingface_hub.utils import validate_repo_id
from safetensors import SafetensorError, safe_open

CONFIG_FILE = "config.json"
WEIGHTS_FILES = (
    "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"
)  # fmt: skip


class SourceError(ValueError):
    """A dataset or model cannot be read from where it was asked for; the one-line message says what and where."""


def is_hub_id(name: str) -> bool:
    """Whether `name` can be a Hub repository id (`name` or `namespace/name`), as `/data/imdb` or `a/b/c` cannot."""
    try:
        validate_repo_id(name)
    except ValueError:
        return False
    return True


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def not_found(kind: str, name: str, error: BaseException) -> SourceError:
    """The error for a `kind` ("dataset", "model") that failed to load from `name`, saying whether it was looked
    for on the Hub too."""
    if Path(name).exists():  # what went wrong is in the cause when the library wraps it (a corrupt data file)
        return SourceError(f"Cannot load the {kind} at '{name}': {first_line(error.__cause__ or error)}")
    if is_hub_id(name):
        return SourceError(f"No {kind} '{name}': no such local path, and the Hub answered: {first_line(error)}")
    return SourceError(f"No {kind} at '{name}': no such file or folder.")


def check_model_folder(model: str, may_be_hub_id: bool = True) -> None:
    """Refuses a local model that cannot load: a missing path, a file, a folder without `config.json` or weights, a
    `config.json` that is not JSON, a safetensors file whose header does not read (truncated or not safetensors).
    A name that is no local path but can be a Hub id is left to the Hub, if `may_be_hub_id`."""
    path = Path(model)
    if not path.exists():
        if may_be_hub_id and is_hub_id(model):
            return
        raise SourceError(f"No model at '{model}': no such file or folder.")
    if not path.is_dir():
        raise SourceError(f"'{model}' is a file, not a model folder.")
    config = path / CONFIG_FILE
    if not config.is_file():
        raise SourceError(f"'{model}' is not a model folder: it has no {CONFIG_FILE}.")
    try:
        json.loads(config.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SourceError(f"'{config}' is corrupt: not valid JSON ({first_line(error)}).") from error
    if not any((path / name).is_file() for name in WEIGHTS_FILES):
        raise SourceError(f"'{model}' is not a model folder: it has no weights file ({WEIGHTS_FILES[0]}).")
    for weights in sorted(path.glob("*.safetensors")):
        try:
            # Only the header is read; numpy, not torch, so that checking a folder never imports torch.
            with safe_open(weights, framework="numpy"):
                pass
        except SafetensorError as error:
            raise SourceError(f"'{weights}' is corrupt: {first_line(error)}.") from error
