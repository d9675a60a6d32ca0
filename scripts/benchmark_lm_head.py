"""Measure what the language models' output layer costs in pretraining: training tokens/s of `LSTMForPreTraining`
with each output layer, next to the embeddings and LSTMs alone.

    OMP_NUM_THREADS=1 python scripts/benchmark_lm_head.py [--vocab_size 30000 --hidden_size 128 ...]

Every method runs the same training step (forward, backward, AdamW) on the same batches of random token ids drawn
from a Zipf-like (log-uniform) distribution, as words are. Methods:
- `lstms_only`: the embeddings and the forward and backward LSTMs, with a loss that costs nothing (the floor);
- `full_softmax`: both language models scored against the whole vocabulary (`num_sampled_negatives=0`);
- `adaptive_softmax`: `nn.AdaptiveLogSoftmaxWithLoss` (clusters cut at 1/15 and 1/3 of the vocabulary, 2,000 and
  10,000 of 30,000 words, div_value 4) over
  each direction's projected states;
- `sampled_softmax`: the model as configured for pretraining, `--num_sampled_negatives` shared negatives, tied
  embeddings, log-Q correction.
Run it alone if you can (other processes on the cores lower the wall-time figures) and quote the thread count and
the machine's load with the results; the CPU-time figures are what the threads did while they ran.
"""

import argparse
import json

import torch

from models import LSTMSentimentConfig
from models.lstm.modeling_lstm import sample_log_uniform
from trainers.lm_head_speed import METHODS, tokens_per_second
from trainers.script_logging import setup_logging


def main(args: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab_size", type=int, default=30000)
    parser.add_argument("--embedding_dim", type=int, default=128)
    parser.add_argument("--hidden_size", type=int, default=128, help="Units per direction.")
    parser.add_argument("--num_sampled_negatives", type=int, default=1024)
    parser.add_argument("--batch_size", type=int, default=64, help="Segments per batch.")
    parser.add_argument("--sequence_length", type=int, default=128, help="Tokens per segment.")
    parser.add_argument("--steps", type=int, default=6, help="Timed training steps per method.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed training steps first.")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    options = parser.parse_args(args)
    setup_logging()

    config = LSTMSentimentConfig(
        vocab_size=options.vocab_size, embedding_dim=options.embedding_dim, hidden_size=options.hidden_size,
        num_sampled_negatives=options.num_sampled_negatives,
    )  # fmt: skip
    torch.manual_seed(0)
    batches = [
        sample_log_uniform(options.batch_size * options.sequence_length, options.vocab_size, torch.device("cpu"))
        .clamp(min=2)  # no [PAD], which would end the segments
        .view(options.batch_size, options.sequence_length)
        for _ in range(options.warmup + options.steps)
    ]
    results = {
        "threads": torch.get_num_threads(),
        "vocab_size": options.vocab_size,
        "embedding_dim": options.embedding_dim,
        "hidden_size": options.hidden_size,
        "batch": f"{options.batch_size} x {options.sequence_length} tokens",
        "num_sampled_negatives": options.num_sampled_negatives,
    }
    speeds = {method: tokens_per_second(method, config, batches, options.warmup) for method in options.methods}
    results["tokens_per_second"] = {method: round(wall) for method, (wall, _) in speeds.items()}
    results["tokens_per_cpu_second"] = {method: round(cpu) for method, (_, cpu) in speeds.items()}
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
