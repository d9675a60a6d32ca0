"""The verbalizer classifier: a frozen pretrained encoder reads "review + template", a small head classifies.

This file imports only `torch`, `transformers` and its sibling configuration file, because `save_pretrained` copies
it to the model folder and `trust_remote_code=True` loads it from there without this project installed.

The tokenizer saved with the model appends the template ids after each review (its post-processor), so the input of
`forward` is what any tokenizer call on raw text gives, as in `pipeline("sentiment-analysis")`. `forward` cuts each
row to `max_length` tokens around the review, never the template, runs the encoder and reads the template's hidden
state. Since the encoder is frozen, that hidden state can be computed once (`encode`) and cached; `forward` then
takes the cached `token_state` / `mean_state` instead of `input_ids`, which is how `Trainer` trains the head.
"""

import torch
from torch import nn
from transformers import AutoModel, AutoModelForMaskedLM, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_verbalizer import VerbalizerConfig

# Where each architecture's masked-LM head keeps the transform applied before the vocabulary projection.
MASKED_LM_TRANSFORMS = {"modernbert": "head", "bert": "cls.predictions.transform"}


def masked_lm_transform(masked_lm: PreTrainedModel) -> nn.Module:
    """The module mapping final hidden states to the inputs of the vocabulary projection of a masked LM."""
    model_type = masked_lm.config.model_type
    if model_type not in MASKED_LM_TRANSFORMS:
        raise ValueError(
            f"The `mlm` head knows the masked-LM heads of {sorted(MASKED_LM_TRANSFORMS)}, not '{model_type}'; "
            "use head_type='mlp' with this encoder."
        )
    return masked_lm.get_submodule(MASKED_LM_TRANSFORMS[model_type])


def cut_rows(input_ids: torch.Tensor, attention_mask: torch.Tensor, max_length: int, kept_from_start: int):
    """Cuts each right-padded row longer than `max_length` to its first `kept_from_start` and last
    `max_length - kept_from_start` tokens; shorter rows are left whole. Returns the ids, mask and row lengths."""
    lengths = attention_mask.sum(dim=1)
    # No `int()`: exported to ONNX, the sequence size is symbolic, and `int()` would fix it to the example's.
    width = min(max_length, input_ids.size(1))
    positions = torch.arange(width, device=input_ids.device).unsqueeze(0)
    too_long = (lengths > max_length).unsqueeze(1)
    from_end = positions >= kept_from_start
    shift = (lengths - max_length).clamp(min=0).unsqueeze(1)
    index = torch.where(too_long & from_end, positions + shift, positions)
    new_lengths = lengths.clamp(max=max_length)
    new_mask = (positions < new_lengths.unsqueeze(1)).to(attention_mask.dtype)
    return input_ids.gather(1, index), new_mask, new_lengths


class MLPHead(nn.Module):
    """The reference design's classifier: Linear -> BatchNorm -> ReLU -> Dropout for each hidden size, then Linear."""

    def __init__(self, input_size: int, hidden_sizes: list[int], dropout: float, num_labels: int):
        super().__init__()
        layers: list[nn.Module] = []
        for size in hidden_sizes:
            layers += [nn.Linear(input_size, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(dropout)]
            input_size = size
        layers.append(nn.Linear(input_size, num_labels))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.training and features.size(0) == 1:
            # BatchNorm cannot take statistics from one review (a training set's last batch can hold just one):
            # that batch is normalised with the running statistics instead, as at inference.
            self.eval()
            logits = self.layers(features)
            self.train()
            return logits
        return self.layers(features)


class LabelWordHead(nn.Module):
    """PET's verbalizer: the encoder's masked-LM transform, then the vocabulary projection's rows of the label words.

    Initialised from a pretrained masked LM, its logits are exactly the LM's logits of the label words at the mask,
    so it classifies before any training; training adjusts the transform and those rows only.
    """

    def __init__(self, transform: nn.Module, hidden_size: int, num_labels: int):
        super().__init__()
        self.transform = transform
        self.label_words = nn.Linear(hidden_size, num_labels)

    def forward(self, mask_state: torch.Tensor) -> torch.Tensor:
        return self.label_words(self.transform(mask_state))


class VerbalizerPreTrainedModel(PreTrainedModel):
    config_class = VerbalizerConfig
    config: VerbalizerConfig
    # The loss is a mean over the batch: `Trainer` must not rescale it by a global token count (`num_items_in_batch`).
    accepts_loss_kwargs = False
    base_model_prefix = "verbalizer"
    main_input_name = "input_ids"
    _supports_sdpa = True


class VerbalizerForSequenceClassification(VerbalizerPreTrainedModel):
    """A pretrained encoder (frozen by default) and an `mlp` or `mlm` head over the template's hidden state."""

    def __init__(self, config: VerbalizerConfig):
        super().__init__(config)
        if config.template_token_ids is None:
            raise ValueError(
                "VerbalizerConfig.template_token_ids is not set: build the model with "
                "VerbalizerForSequenceClassification.from_encoder, which reads them from the tokenizer."
            )
        hidden_size = config.encoder_config.hidden_size
        if config.head_type == "mlm":
            masked_lm = AutoModelForMaskedLM.from_config(config.encoder_config)
            self.encoder = masked_lm.base_model
            self.head = LabelWordHead(masked_lm_transform(masked_lm), hidden_size, config.num_labels)
        else:
            self.encoder = AutoModel.from_config(config.encoder_config)
            input_size = hidden_size * (2 if config.representation == "token_and_mean" else 1)
            self.head = MLPHead(input_size, config.mlp_hidden_sizes, config.classifier_dropout, config.num_labels)
        self.encoder.requires_grad_(not config.freeze_encoder)
        self.post_init()
        self.train()  # a frozen encoder starts, and stays, in eval mode

    @classmethod
    def from_encoder(cls, config: VerbalizerConfig, encoder_name_or_path: str | None = None):
        """A new model whose encoder (and, for `mlm`, masked-LM head) carries the pretrained weights of
        `encoder_name_or_path` (default: `config.encoder_name_or_path`); the `mlp` head starts random."""
        source = encoder_name_or_path or config.encoder_name_or_path
        model = cls(config)
        if config.head_type == "mlm":
            pretrained = AutoModelForMaskedLM.from_pretrained(source)
            model.head.transform.load_state_dict(masked_lm_transform(pretrained).state_dict())
            decoder = pretrained.get_output_embeddings()
            with torch.no_grad():
                model.head.label_words.weight.copy_(decoder.weight[config.label_word_ids])
                bias = decoder.bias[config.label_word_ids] if decoder.bias is not None else 0.0
                model.head.label_words.bias.copy_(bias)
        else:
            pretrained = AutoModel.from_pretrained(source)
        model.encoder.load_state_dict(pretrained.base_model.state_dict())
        return model

    def train(self, mode: bool = True):
        """A frozen encoder stays in eval mode (no dropout), so its features are the same in training and use."""
        super().train(mode)
        if self.config.freeze_encoder:
            self.encoder.eval()
        return self

    @property
    def read_offset(self) -> int:
        """Position of the token whose hidden state the head reads, counted back from a row's last real token."""
        return self.config.trailing_special_tokens

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Runs the encoder on tokenized "review + template" rows and returns what the head reads.

        `token_state` is the hidden state of the template's last token (the mask for `mlm`); `mean_state` is the
        mean over the row's tokens. Rows are cut to `max_length` first (the review is cut, never the template).
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        # An exported graph (ONNX) cannot raise on its inputs' values: there, the tokenizer beside it pads on the
        # right and appends the template, and these checks are left out.
        exporting = torch.compiler.is_exporting()
        lengths = attention_mask.sum(dim=1)
        positions = torch.arange(attention_mask.size(1), device=attention_mask.device)
        if not exporting and not torch.equal(attention_mask.bool(), positions < lengths.unsqueeze(1)):
            raise ValueError("VerbalizerForSequenceClassification expects right padding (attention_mask 1s then 0s).")
        config = self.config
        input_ids, attention_mask, lengths = cut_rows(
            input_ids, attention_mask, config.max_length, config.kept_from_start
        )
        if not exporting:
            self._check_template(input_ids, lengths)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        rows = torch.arange(hidden.size(0), device=hidden.device)
        token_state = hidden[rows, lengths - 1 - self.read_offset]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean_state = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
        return {"token_state": token_state, "mean_state": mean_state}

    def _check_template(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> None:
        """Refuses rows that do not end with the template, so a wrong tokenizer can never pass silently."""
        template = torch.tensor(self.config.template_token_ids, device=input_ids.device)
        ends = lengths.unsqueeze(1) - self.config.trailing_special_tokens - len(template)
        if (ends < self.config.leading_special_tokens).any():
            raise ValueError("An input row is shorter than the template: tokenize with the model's own tokenizer.")
        found = input_ids.gather(1, ends + torch.arange(len(template), device=input_ids.device))
        if not (found == template).all():
            raise ValueError(
                "The input does not end with the verbalizer template "
                f"{self.config.template_token_ids}: tokenize raw text with the tokenizer saved beside this model, "
                "whose post-processor appends the template after the review."
            )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_state: torch.Tensor | None = None,
        mean_state: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
    ) -> SequenceClassifierOutput:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            "Review + template" token ids from the model's tokenizer, padded on the right, of any length.
        attention_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`, *optional*):
            1 for real tokens, 0 for padding.
        token_state (`torch.Tensor` of shape `(batch_size, hidden_size)`, *optional*):
            Cached output of `encode`, given instead of `input_ids` to train the head without running the encoder.
        mean_state (`torch.Tensor` of shape `(batch_size, hidden_size)`, *optional*):
            Cached output of `encode`, with `token_state`.
        labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
            Class indices; when given, the cross-entropy loss is returned too.
        """
        if input_ids is not None:
            features = self.encode(input_ids, attention_mask)
            token_state, mean_state = features["token_state"], features["mean_state"]
        elif token_state is None:
            raise ValueError("Give either `input_ids` or the cached features `token_state` (and `mean_state`).")
        if self.config.head_type == "mlm" or self.config.representation == "token":
            features = token_state
        elif self.config.representation == "mean":
            features = mean_state
        else:
            features = torch.cat([token_state, mean_state], dim=-1)
        logits = self.head(features)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, self.config.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


__all__ = ["VerbalizerForSequenceClassification", "VerbalizerPreTrainedModel"]
