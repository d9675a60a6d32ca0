"""Runs `scripts/predict.py --backend onnx` in this process, twice (reviews cut, then chunked), and fails if that
imported torch: the ONNX backend must run where torch is not installed.

Usage: python onnx_predictions.py FOLDER REVIEWS.jsonl TOP_K CHUNK_OVERLAP
Prints one JSON object: {"cut": [record, ...], "chunked": [record, ...]}, the records predict.py wrote.
"""

import contextlib
import io
import json
import runpy
import sys
from pathlib import Path

PREDICT_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "predict.py"


def predict(*arguments: str) -> list[dict]:
    sys.argv = [str(PREDICT_SCRIPT), *arguments]
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        runpy.run_path(str(PREDICT_SCRIPT), run_name="__main__")
    return [json.loads(line) for line in output.getvalue().splitlines()]


if __name__ == "__main__":
    folder, reviews, top_k, chunk_overlap = sys.argv[1:]
    common = ["--model", folder, "--backend", "onnx", "--input", reviews, "--top_k", top_k]
    records = {"cut": predict(*common), "chunked": predict(*common, "--chunk_overlap", chunk_overlap)}
    assert "onnxruntime" in sys.modules, "the onnx backend did not run ONNX Runtime"
    assert "torch" not in sys.modules, "the onnx backend imported torch"
    print(json.dumps(records))
