"""Configuration of the verbalizer classifier: a frozen pretrained encoder reads a review followed by a template."""

from typing import Literal

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .tokenization_truncation import tokens_kept_from_start

DEFAULT_ID2LABEL = {0: "NEGATIVE", 1: "POSITIVE"}
DEFAULT_ENCODER = "answerdotai/ModernBERT-base"


@strict
class VerbalizerConfig(PreTrainedConfig):
    r"""
    Configuration of [`VerbalizerForSequenceClassification`]: a pretrained encoder (frozen by default) reads each
    review followed by a template, and a small head classifies from the hidden states.

    The template is appended by the tokenizer saved with the model (its post-processor), after the review has been
    cut, so it is present for every review whatever its length; the model then cuts each row to `max_length` tokens,
    keeping the template and taking the review's tokens from its start, its end or both (`truncation`).

    Args:
        encoder_config (`dict` or `PreTrainedConfig`, *optional*):
            The encoder's own configuration (any model type `AutoModel` knows, ModernBERT by default). Held whole, so
            the saved folder rebuilds the encoder without downloading anything.
        encoder_name_or_path (`str`, *optional*, defaults to `"answerdotai/ModernBERT-base"`):
            Hub id or local folder the encoder's pretrained weights and tokenizer were taken from.
        template (`str`, *optional*, defaults to `" The sentiment of this statement is"`):
            Text appended to every review. The `mlp` head reads the hidden state of its last token; the `mlm` head
            puts the encoder's mask token after it and scores the label words there.
        head_type (`str`, *optional*, defaults to `"mlp"`):
            `"mlp"`: a multilayer perceptron over the template's hidden state. `"mlm"`: PET-style, the encoder's
            masked-LM head scores one label word per class at the mask; it classifies with no training at all.
        representation (`str`, *optional*, defaults to `"token_and_mean"`):
            What the `mlp` head reads: `"token"` (the template's last token), `"mean"` (the mean over all tokens of
            the review and template) or `"token_and_mean"` (both, concatenated).
        mlp_hidden_sizes (`list[int]`, *optional*, defaults to `[256, 128, 64]`):
            Sizes of the `mlp` head's hidden layers, each Linear -> BatchNorm -> ReLU -> Dropout.
        classifier_dropout (`float`, *optional*, defaults to 0.2):
            Dropout after each hidden layer of the `mlp` head.
        label_words (`list[str]`, *optional*, defaults to `[" terrible", " great"]`):
            For the `mlm` head, one word per class in label order (NEGATIVE, POSITIVE); each must be a single token
            of the encoder's vocabulary (with its leading space for byte-level vocabularies).
        max_length (`int`, *optional*, defaults to 256):
            Tokens the encoder reads per review, special tokens and template included.
        truncation (`str`, *optional*, defaults to `"head_tail"`):
            Which tokens of a longer review are kept: `"head"` (its start), `"tail"` (its end) or `"head_tail"` (its
            first `head_tokens` tokens and its end, which is known to work best on IMDB).
        head_tokens (`int`, *optional*, defaults to 64):
            With `truncation="head_tail"`, tokens kept from the start of the row (the leading special token included).
        freeze_encoder (`bool`, *optional*, defaults to `True`):
            Whether the encoder's weights stay fixed; then its features can be computed once and cached.
        template_token_ids (`list[int]`, *optional*):
            Ids the tokenizer appends after each review: the template's tokens, then the mask token for `mlm`. Set
            from the tokenizer when the model is built; the model checks every input row ends with them.
        label_word_ids (`list[int]`, *optional*):
            Vocabulary ids of `label_words`, set from the tokenizer when an `mlm` model is built.
        leading_special_tokens (`int`, *optional*, defaults to 1):
            Special tokens the tokenizer puts before the review (e.g. `[CLS]`).
        trailing_special_tokens (`int`, *optional*, defaults to 1):
            Special tokens the tokenizer puts after the template (e.g. `[SEP]`).
    """

    model_type = "imdb_verbalizer"
    sub_configs_defaults = {"encoder_config": SubConfigSpec(config_class=AutoConfig, model_type="modernbert")}

    encoder_config: dict | PreTrainedConfig | None = None
    encoder_name_or_path: str = DEFAULT_ENCODER
    template: str = " The sentiment of this statement is"
    head_type: Literal["mlp", "mlm"] = "mlp"
    representation: Literal["token", "mean", "token_and_mean"] = "token_and_mean"
    mlp_hidden_sizes: list[int] | tuple[int, ...] = (256, 128, 64)
    classifier_dropout: float | int = 0.2
    label_words: list[str] | tuple[str, ...] = (" terrible", " great")
    max_length: int = 256
    truncation: Literal["head", "tail", "head_tail"] = "head_tail"
    head_tokens: int = 64
    freeze_encoder: bool = True
    template_token_ids: list[int] | None = None
    label_word_ids: list[int] | None = None
    leading_special_tokens: int = 1
    trailing_special_tokens: int = 1

    def __post_init__(self, **kwargs):
        if self.id2label is None and kwargs.get("num_labels") is None:
            self.id2label = dict(DEFAULT_ID2LABEL)
            self.label2id = {label: index for index, label in DEFAULT_ID2LABEL.items()}
        self.mlp_hidden_sizes = list(self.mlp_hidden_sizes)
        self.label_words = list(self.label_words)
        super().__post_init__(**kwargs)
        if any(size < 1 for size in self.mlp_hidden_sizes):
            raise ValueError(f"`mlp_hidden_sizes` must be positive integers, got {self.mlp_hidden_sizes}.")
        if not 0.0 <= self.classifier_dropout < 1.0:
            raise ValueError(f"`classifier_dropout` must be in [0, 1), got {self.classifier_dropout}.")
        if not self.template.strip():
            raise ValueError("`template` must hold at least one word.")
        if self.head_type == "mlm" and len(self.label_words) != self.num_labels:
            raise ValueError(
                f"The `mlm` head needs one label word per class ({self.num_labels}), got {self.label_words}."
            )
        self.kept_from_start  # refuses a cut that leaves no room for the review

    @property
    def kept_from_start(self) -> int:
        """Tokens kept from the start of a row that is too long; the rest of `max_length` is taken from its end, where
        the template sits before the trailing special tokens. The rule of the tokenizer saved beside the model."""
        after_review = len(self.template_token_ids or ()) + self.trailing_special_tokens
        return tokens_kept_from_start(
            self.max_length, self.truncation, self.head_tokens, self.leading_special_tokens, after_review
        )


__all__ = ["VerbalizerConfig"]
