"""An LSTM sentiment classifier learned from scratch, as a Hub-portable `PreTrainedModel`.

This file imports only `torch`, `transformers` and its sibling configuration file, because `save_pretrained` copies
it to the model folder and `trust_remote_code=True` loads it from there without this project installed.
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_lstm import LSTMSentimentConfig


def reverse_padded(sequences: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverses the first `lengths[i]` steps of each row of `sequences` (batch, time, ...) and leaves padding in place.

    Applying it twice gives the input back. Reading reversed rows left to right is how the backward direction sees a
    review without ever reading its padding first, which keeps logits independent of how much padding a batch has.
    """
    steps = torch.arange(sequences.size(1), device=sequences.device).unsqueeze(0)
    last = (lengths - 1).unsqueeze(1)
    index = torch.where(steps <= last, last - steps, steps)
    index = index.view(*index.shape, *([1] * (sequences.dim() - 2))).expand_as(sequences)
    return sequences.gather(1, index)


class PaddingInvariantLSTM(nn.Module):
    """A stack of (bi)directional LSTM layers over right-padded batches.

    `nn.LSTM(bidirectional=True)` would start its backward pass on the padding, so a review's outputs would change
    with the length of its batch-mates. Here the backward direction is a forward LSTM over each review reversed
    within its own length. This costs the same as `nn.LSTM` and, unlike `pack_padded_sequence`, stays fast on CPUs.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, dropout: float):
        super().__init__()
        directions = 2 if bidirectional else 1
        self.forward_layers = nn.ModuleList(
            nn.LSTM(input_size if i == 0 else hidden_size * directions, hidden_size, batch_first=True)
            for i in range(num_layers)
        )
        self.backward_layers = nn.ModuleList(
            nn.LSTM(input_size if i == 0 else hidden_size * directions, hidden_size, batch_first=True)
            for i in range(num_layers if bidirectional else 0)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        hidden = inputs
        for index, forward_layer in enumerate(self.forward_layers):
            if index > 0:
                hidden = self.dropout(hidden)
            outputs, _ = forward_layer(hidden)
            if self.backward_layers:
                backward_outputs, _ = self.backward_layers[index](reverse_padded(hidden, lengths))
                outputs = torch.cat([outputs, reverse_padded(backward_outputs, lengths)], dim=-1)
            hidden = outputs
        return hidden


class MaskedPooling(nn.Module):
    """Pools the LSTM outputs of each review's real tokens into one vector; padding never contributes."""

    def __init__(self, pooling: str, input_size: int):
        super().__init__()
        self.pooling = pooling
        self.attention = nn.Linear(input_size, 1) if pooling == "attention" else None

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.unsqueeze(-1)
        lowest = torch.finfo(hidden.dtype).min
        pooled = []
        if self.pooling in ("max", "max_mean"):
            pooled.append(hidden.masked_fill(~mask, lowest).max(dim=1).values)
        if self.pooling in ("mean", "max_mean"):
            pooled.append((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1))
        if self.pooling == "attention":
            scores = self.attention(torch.tanh(hidden)).masked_fill(~mask, lowest)
            pooled.append((scores.softmax(dim=1) * hidden).sum(dim=1))
        # A review with no tokens at all (empty text) pools to zeros, so it gets the classifier's prior, not NaN.
        return torch.cat(pooled, dim=-1).masked_fill(~mask.any(dim=1), 0.0)


class LSTMPreTrainedModel(PreTrainedModel):
    config_class = LSTMSentimentConfig
    # The loss is a mean over the batch: `Trainer` must not rescale it by a global token count (`num_items_in_batch`).
    accepts_loss_kwargs = False
    config: LSTMSentimentConfig
    base_model_prefix = "lstm"
    main_input_name = "input_ids"

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, nn.LSTM):
            # Orthogonal recurrent weights keep gradients alive through long reviews; a forget-gate bias of 1
            # makes the cell remember by default early in training (Jozefowicz et al., 2015).
            for name, param in module.named_parameters():
                if name.startswith("weight_ih"):
                    init.xavier_uniform_(param)
                elif name.startswith("weight_hh"):
                    init.orthogonal_(param)
                elif name.startswith("bias"):
                    init.zeros_(param)
                    if name.startswith("bias_ih") and not getattr(param, "_is_hf_initialized", False):
                        init.ones_(param[module.hidden_size : 2 * module.hidden_size])
        elif isinstance(module, nn.Embedding):
            # Embeddings learned from scratch start at unit scale, as in `nn.Embedding`, not BERT's 0.02.
            init.normal_(module.weight, mean=0.0, std=1.0)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        else:
            super()._init_weights(module)


class LSTMForSequenceClassification(LSTMPreTrainedModel):
    """Embeddings, a padding-invariant (bi)LSTM, masked pooling and a linear classifier."""

    def __init__(self, config: LSTMSentimentConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.lstm = PaddingInvariantLSTM(
            config.embedding_dim, config.hidden_size, config.num_layers, config.bidirectional, config.lstm_dropout
        )
        lstm_output_size = config.hidden_size * (2 if config.bidirectional else 1)
        self.pooling = MaskedPooling(config.pooling, lstm_output_size)
        pooled_size = lstm_output_size * (2 if config.pooling == "max_mean" else 1)
        self.classifier_dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(pooled_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding):
        self.embeddings = value

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
    ) -> SequenceClassifierOutput:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Token ids from the model's word-level tokenizer, padded on the right.
        attention_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`, *optional*):
            1 for real tokens, 0 for padding. Derived from `pad_token_id` when not given.
        labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
            Class indices; when given, the cross-entropy loss is returned too.
        """
        if attention_mask is None:
            attention_mask = input_ids.ne(self.config.pad_token_id)
        mask = attention_mask.bool()
        if input_ids.size(1) == 0:  # an empty text tokenizes to nothing; give it one padding step
            input_ids = input_ids.new_full((input_ids.size(0), 1), self.config.pad_token_id)
            mask = mask.new_zeros((input_ids.size(0), 1))
        lengths = mask.sum(dim=1)
        if not torch.equal(mask, torch.arange(mask.size(1), device=mask.device) < lengths.unsqueeze(1)):
            raise ValueError("LSTMForSequenceClassification expects right padding (attention_mask of 1s then 0s).")

        embedded = self.embedding_dropout(self.embeddings(input_ids))
        hidden = self.lstm(embedded, lengths)
        pooled = self.pooling(hidden, mask)
        logits = self.classifier(self.classifier_dropout(pooled))

        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


__all__ = ["LSTMForSequenceClassification", "LSTMPreTrainedModel"]
