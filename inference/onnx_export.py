"""Exporting a model folder's classifier to ONNX (`scripts/export_onnx.py`), checked against PyTorch.

Every approach goes through `torch.onnx.export` (the `torch.export`-based exporter): the LSTM and the verbalizer are
this project's own architectures, and Optimum's exporter for stock ones (`optimum-onnx` 0.1.0) requires
`transformers<4.58`. The graph takes `input_ids`, `attention_mask` and, where the model takes it, `token_type_ids`,
with dynamic batch and sequence axes, and returns `logits`. The tokenizer, with the folder's truncation rule, stays
in the folder beside `onnx/`: the graph holds the model only.

The weights are loaded into this project's model classes (the Auto classes with the project's registrations), whose
code can be exported (input checks that raise on values are left out while exporting); the folder's own copy of that
code may be older. Either way the export is accepted only if ONNX Runtime's probabilities equal those of the folder
loaded as its users load it (`trust_remote_code=True`), to `TOLERANCE`, on reviews of several lengths, one of them
cut at the maximum length, in batches with padding.
"""

import inspect
from pathlib import Path

import numpy as np
import onnx
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

import models  # noqa: F401  (registers the project's models with the Auto classes)

from .onnx_runtime import NUM_PARAMETERS_KEY, OnnxClassifier, onnx_file
from .predictor import SentimentPredictor
from .sources import check_model_folder
from .torch_runtime import TorchClassifier

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# Largest difference in any probability between ONNX Runtime and PyTorch that the export accepts.
TOLERANCE = 1e-4
# Reviews the export is traced with and checked on: short and long, so that every batch pads, the long one cut.
PROBE_REVIEWS = [
    "A wonderful, moving film.",
    "Dull, predictable and far too long. I nearly walked out, and I wish I had.",
    "I didn't hate it, but I wouldn't watch it again. " * 3,
    "The first half is brilliant; the second half throws all of it away, scene after scene. " * 120,
]


class LogitsOnly(torch.nn.Module):
    """The classifier with positional inputs and one output, `logits`: the signature of the ONNX graph."""

    def __init__(self, model: PreTrainedModel, input_names: list[str]):
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.input_names, inputs))).logits


def export_onnx(folder: str, int8: bool = False) -> dict:
    """Writes `folder/onnx/model.onnx` (and `model_int8.onnx`, dynamically quantized, with `int8`) and returns what
    was written with the largest probability difference from PyTorch on the probe reviews."""
    check_model_folder(folder, may_be_hub_id=False)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    accepted = inspect.signature(model.forward).parameters
    example = tokenizer(PROBE_REVIEWS[:2], truncation=True, padding=True, return_tensors="pt")
    input_names = [name for name in INPUT_NAMES if name in example and name in accepted]
    # The tokenizer never gives more than `model_max_length` tokens, which lets the exporter drop cuts of longer rows.
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence", max=tokenizer.model_max_length)
    path = onnx_file(folder, "onnx")
    path.parent.mkdir(exist_ok=True)
    try:
        with torch.no_grad():
            torch.onnx.export(
                LogitsOnly(model, input_names),
                tuple(example[name] for name in input_names),
                str(path),
                input_names=input_names,
                output_names=["logits"],
                dynamic_shapes=(tuple({0: batch, 1: sequence} for _ in input_names),),
                external_data=False,
                dynamo=True,
                verbose=False,  # its progress lines would go to stdout, where the script prints its JSON report
            )
    except torch.onnx.OnnxExporterError as error:
        raise ValueError(
            f"torch.onnx cannot export the {model.config.model_type} model of '{folder}': {exporter_summary(error)}"
        ) from error
    num_parameters = sum(parameter.numel() for parameter in model.parameters())
    record_metadata(path, {NUM_PARAMETERS_KEY: str(num_parameters)})

    reference = load_reference(folder, tokenizer)
    difference = probability_difference(reference, folder, "onnx")
    if difference > TOLERANCE:
        path.unlink()
        raise ValueError(
            f"The ONNX export of '{folder}' gave probabilities up to {difference:.2e} away from PyTorch's "
            f"(tolerance {TOLERANCE:g}), so it was not kept."
        )
    written = {"onnx": str(path), "max_probability_difference": difference}
    if int8:
        int8_path = onnx_file(folder, "onnx-int8")
        # Imported here, not at the top: onnxruntime.quantization puts onnxruntime/transformers on sys.path, where
        # a `models` package would then stand in for this project's in any later import.
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(path, int8_path, weight_type=QuantType.QInt8)
        record_metadata(int8_path, {NUM_PARAMETERS_KEY: str(num_parameters)})
        # Quantization changes the numbers by design: reported, not checked.
        written["onnx-int8"] = str(int8_path)
        written["int8_max_probability_difference"] = probability_difference(reference, folder, "onnx-int8")
    return written


def exporter_summary(error: Exception) -> str:
    """The line of torch.onnx's long report that says what failed (`<class '...'>: message`), else its first."""
    lines = str(error).splitlines()
    return next((line for line in lines if line.startswith("<class ")), lines[0] if lines else type(error).__name__)


def record_metadata(path: Path, properties: dict[str, str]) -> None:
    graph = onnx.load(str(path))
    onnx.helper.set_model_props(graph, properties)
    onnx.save(graph, str(path))


def load_reference(folder: str, tokenizer) -> SentimentPredictor:
    """The folder as its users load it, with its own code (`trust_remote_code=True`), run by PyTorch."""
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    return SentimentPredictor("reference", TorchClassifier(model), tokenizer)


def probability_difference(reference: SentimentPredictor, folder: str, backend: str) -> float:
    """The largest difference between the probe reviews' probabilities under PyTorch and under `backend`, in
    batches of 2 and of all of them (so that rows are padded differently)."""
    exported = SentimentPredictor("exported", OnnxClassifier(folder, backend), reference.tokenizer)
    return max(
        float(
            np.abs(
                reference.predict_probabilities(PROBE_REVIEWS, size)
                - exported.predict_probabilities(PROBE_REVIEWS, size)
            ).max()
        )
        for size in (2, len(PROBE_REVIEWS))
    )
