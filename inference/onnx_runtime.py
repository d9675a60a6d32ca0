"""Running a model folder's ONNX export with ONNX Runtime, without PyTorch: the `onnx` backend of the predictor.

`scripts/export_onnx.py` writes `onnx/model.onnx` (and `onnx/model_int8.onnx`) into a model folder; the tokenizer,
with the folder's truncation rule, and `config.json` (labels) stay where they are. This module reads the three and
imports neither `torch` nor a transformers module that would import it: `AutoTokenizer` and `AutoConfig` do
(transformers' configuration code imports torch whenever it is installed), so the tokenizer's class is loaded the
way `AutoTokenizer` loads it with `trust_remote_code=True`, from the folder's `auto_map`, and the labels are read
from `config.json` as JSON. A process labelling reviews this way starts faster and holds less memory than one that
imports torch, and runs where torch is not installed.
"""

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import transformers
from transformers.dynamic_module_utils import get_class_from_dynamic_module

ONNX_FOLDER = "onnx"
# The file each ONNX backend runs, inside a model folder's `onnx/`.
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx"}
# Written into the ONNX file's metadata by the export: ONNX Runtime cannot count a graph's parameters itself.
NUM_PARAMETERS_KEY = "num_parameters"


def onnx_file(folder: str | Path, backend: str) -> Path:
    return Path(folder) / ONNX_FOLDER / ONNX_FILES[backend]


def check_onnx_file(folder: str, backend: str) -> Path:
    """The ONNX file `backend` runs in the local model folder `folder`, or an error saying how to make it."""
    if not Path(folder).is_dir():
        raise ValueError(f"The {backend} backend needs a local model folder; '{folder}' is none (download it first).")
    path = onnx_file(folder, backend)
    if not path.is_file():
        int8 = " --int8" if backend == "onnx-int8" else ""
        raise ValueError(
            f"No ONNX model at '{path}': export it first with `python scripts/export_onnx.py --model {folder}{int8}`."
        )
    return path


def load_tokenizer_without_torch(folder: str):
    """The folder's tokenizer, as `AutoTokenizer.from_pretrained(folder, trust_remote_code=True)` loads it.

    The class named by `tokenizer_config.json`'s `auto_map` (the folder's own `TruncatingTokenizer`, which cuts long
    reviews as training did) or, without one, the transformers class named by `tokenizer_class`.
    """
    config = json.loads((Path(folder) / "tokenizer_config.json").read_text())
    class_reference = config.get("auto_map", {}).get("AutoTokenizer", [None])[0]
    if class_reference is not None:
        tokenizer_class = get_class_from_dynamic_module(class_reference, folder)
    else:
        tokenizer_class = getattr(transformers, config.get("tokenizer_class") or "TokenizersBackend")
    return tokenizer_class.from_pretrained(folder)


class OnnxClassifier:
    """A sequence classifier exported to ONNX, run by ONNX Runtime: an encoded batch in, logits out, as numpy."""

    def __init__(self, folder: str, backend: str = "onnx", device: str = "cpu"):
        path = check_onnx_file(folder, backend)
        try:  # an optional extra, imported here so that this module's file names are usable without it
            import onnxruntime
        except ImportError as error:
            raise ValueError(
                f"The {backend} backend needs ONNX Runtime: pip install 'imdb-sentiment[onnx]'."
            ) from error
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise ValueError(
                    "This onnxruntime has no CUDA provider: install onnxruntime-gpu, or use --device cpu."
                )
            providers.insert(0, "CUDAExecutionProvider")
        options = onnxruntime.SessionOptions()
        # ONNX Runtime sizes its thread pool by the cores, ignoring OMP_NUM_THREADS, which is how jobs sharing this
        # project's machines are kept from slowing each other down (and how PyTorch's threads are set): honour it.
        if os.environ.get("OMP_NUM_THREADS", "").isdigit():
            options.intra_op_num_threads = int(os.environ["OMP_NUM_THREADS"])
        self.backend_name = backend
        self.session = onnxruntime.InferenceSession(str(path), options, providers=providers)
        self.input_names = [graph_input.name for graph_input in self.session.get_inputs()]
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.num_parameters = int(metadata[NUM_PARAMETERS_KEY]) if NUM_PARAMETERS_KEY in metadata else None
        config = json.loads((Path(folder) / "config.json").read_text())
        self.id2label = {int(index): label for index, label in config["id2label"].items()}
        self.problem_type = config.get("problem_type")
        self.model_type = config.get("model_type")

    def __call__(self, encoded: Mapping[str, np.ndarray]) -> np.ndarray:
        # The graph takes only the inputs it was exported with (a tokenizer may also give token_type_ids), as int64.
        feed = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}
        (logits,) = self.session.run(["logits"], feed)
        return logits.astype(np.float32, copy=False)


def load_onnx_model(folder: str, backend: str, device: str):
    """The tokenizer of a local model folder and its ONNX export (`backend` `onnx` or `onnx-int8`)."""
    model = OnnxClassifier(folder, backend, device)
    return load_tokenizer_without_torch(folder), model
