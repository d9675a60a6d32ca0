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
import time

import torch
from torch import nn

from models import LSTMForPreTraining, LSTMSentimentConfig
from models.lstm.modeling_lstm import sample_log_uniform
from trainers.script_logging import setup_logging

METHODS = ("lstms_only", "full_softmax", "adaptive_softmax", "sampled_softmax")


class AdaptiveSoftmaxLanguageModels(nn.Module):
    """The pretraining model's embeddings, LSTMs and projections, scored by an adaptive softmax instead."""

    def __init__(self, config: LSTMSentimentConfig):
        super().__init__()
        self.pretraining = LSTMForPreTraining(config)
        self.adaptive_softmax = nn.AdaptiveLogSoftmaxWithLoss(
            config.embedding_dim,
            config.vocab_size,
            cutoffs=[config.vocab_size // 15, config.vocab_size // 3],
            div_value=4.0,
        )

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.pretraining.lstm(input_ids).last_hidden_state
        size = self.pretraining.config.hidden_size
        head = self.pretraining.lm_head
        states = torch.cat(
            [head.forward_projection(hidden[:, :-1, :size]), head.backward_projection(hidden[:, 1:, size:])]
        )
        targets = torch.cat([input_ids[:, 1:], input_ids[:, :-1]])
        return self.adaptive_softmax(states.flatten(0, 1), targets.flatten()).loss


def training_step(method: str, config: LSTMSentimentConfig):
    """A model in training mode and the function that computes its loss on a batch of ids."""
    if method == "adaptive_softmax":
        model = AdaptiveSoftmaxLanguageModels(config)
        return model, model
    negatives = 0 if method == "full_softmax" else config.num_sampled_negatives
    model = LSTMForPreTraining(LSTMSentimentConfig(**{**config.to_diff_dict(), "num_sampled_negatives": negatives}))
    if method == "lstms_only":
        return model, lambda ids: model.lstm(ids).last_hidden_state.mean()
    return model, lambda ids: model(input_ids=ids, labels=ids).loss


def tokens_per_second(
    method: str, config: LSTMSentimentConfig, batches: list[torch.Tensor], warmup: int
) -> tuple[float, float]:
    """Training tokens per second of wall time, and per second of this process's CPU time (what the threads would
    give on cores nobody else uses: on shared cores the wall-time figure falls, the CPU-time one much less)."""
    torch.manual_seed(0)
    model, loss_of = training_step(method, config)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for step, ids in enumerate(batches):
        if step == warmup:
            wall, cpu = time.perf_counter(), time.process_time()
        loss_of(ids).backward()
        optimizer.step()
        optimizer.zero_grad()
    tokens = sum(ids.numel() for ids in batches[warmup:])
    return tokens / (time.perf_counter() - wall), tokens / (time.process_time() - cpu)


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
