"""The training speed of the pretraining model's output layers, measured alike for each way of scoring the next word
(`scripts/benchmark_lm_head.py`): the LSTMs alone, the full softmax, an adaptive softmax, a sampled softmax."""

import time

import torch
from torch import nn

from models import LSTMForPreTraining, LSTMSentimentConfig

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
