"""Export a model folder's classifier to ONNX, for ONNX Runtime: FOLDER/onnx/model.onnx (and model_int8.onnx).

    python scripts/export_onnx.py --model outputs/lstm-imdb
    python scripts/export_onnx.py --model outputs/lstm-imdb --int8    # also a dynamically quantized int8 copy
    python scripts/predict.py --model outputs/lstm-imdb --backend onnx "A wonderful film."

Works for the LSTM, the verbalizer and fine-tuned encoders. The graph takes input_ids, attention_mask (and
token_type_ids where the model takes them), any batch size and up to the tokenizer's model_max_length tokens, and
gives logits; the folder's tokenizer, which cuts long reviews as training did, stays beside it. The export is kept
only if ONNX Runtime's probabilities equal PyTorch's to 1e-4 on reviews of several lengths; int8 changes the numbers
by design, and its largest difference is reported. Prints what was written as JSON.
"""

import argparse
import json
import sys

from inference.onnx_export import export_onnx
from trainers.script_logging import setup_logging


def main(args: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="A local model folder written by a training script.")
    parser.add_argument("--int8", action="store_true", help="Also write onnx/model_int8.onnx (dynamic quantization).")
    arguments = parser.parse_args(args)
    setup_logging()
    try:
        written = export_onnx(arguments.model, int8=arguments.int8)
    except (ValueError, OSError) as error:  # SourceError (the folder) is a ValueError
        sys.exit(f"error: {error}")
    print(json.dumps(written, indent=2))
    return written


if __name__ == "__main__":
    main()
