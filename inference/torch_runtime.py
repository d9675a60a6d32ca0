"""Running a model folder with PyTorch: the `torch` backend of the predictor (`inference/predictor.py`).

Kept apart from `inference.py` so that a process using the `onnx` backend never imports torch.
"""

from collections.abc import Mapping

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from .predictor import TORCH_DTYPES
from .sources import not_found


class TorchClassifier:
    """A sequence classifier loaded through the Auto classes and run by PyTorch: an encoded batch in, logits out, as
    numpy."""

    def __init__(self, model: PreTrainedModel, backend_name: str = "torch"):
        self.model = model
        self.backend_name = backend_name
        self.id2label = model.config.id2label
        self.problem_type = model.config.problem_type
        self.model_type = model.config.model_type
        self.num_parameters = sum(parameter.numel() for parameter in model.parameters())

    @torch.inference_mode()
    def __call__(self, encoded: Mapping[str, np.ndarray]) -> np.ndarray:
        inputs = {name: torch.from_numpy(array).to(self.model.device) for name, array in encoded.items()}
        return self.model(**inputs).logits.float().cpu().numpy()


def load_torch_model(model_path: str, device: str, backend: str = "torch"):
    """The tokenizer and model of a folder or Hub id, loaded as a Hub user loads them (`trust_remote_code=True`), its
    weights in the backend's dtype (`TORCH_DTYPES`)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            model_path, trust_remote_code=True, dtype=TORCH_DTYPES[backend]
        )
    except OSError as error:
        raise not_found("model", model_path, error) from error
    return tokenizer, TorchClassifier(model.to(device).eval(), backend)
