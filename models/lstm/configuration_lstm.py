"""Configuration of the LSTM sentiment classifier learned from scratch."""

from typing import Literal

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

DEFAULT_ID2LABEL = {0: "NEGATIVE", 1: "POSITIVE"}


@strict
class LSTMSentimentConfig(PreTrainedConfig):
    r"""
    Configuration of [`LSTMForSequenceClassification`]: word embeddings learned from scratch, a (bidirectional)
    LSTM, a masked pooling over the tokens of each review, and a linear classifier.

    Args:
        vocab_size (`int`, *optional*, defaults to 30000):
            Number of rows of the embedding matrix; must equal the size of the tokenizer's vocabulary.
        embedding_dim (`int`, *optional*, defaults to 128):
            Size of the word embeddings.
        hidden_size (`int`, *optional*, defaults to 128):
            Size of the LSTM state in each direction.
        num_layers (`int`, *optional*, defaults to 1):
            Number of stacked LSTM layers.
        bidirectional (`bool`, *optional*, defaults to `True`):
            Whether a second LSTM reads each review from its last token to its first.
        pooling (`str`, *optional*, defaults to `"max_mean"`):
            How the LSTM outputs of a review's tokens become one vector: `"attention"` (learned weights over the
            tokens), `"max"`, `"mean"` or `"max_mean"` (both, concatenated). Padding is always masked out.
        embedding_dropout (`float`, *optional*, defaults to 0.3):
            Dropout on the word embeddings.
        lstm_dropout (`float`, *optional*, defaults to 0.0):
            Dropout between stacked LSTM layers (ignored with one layer).
        classifier_dropout (`float`, *optional*, defaults to 0.3):
            Dropout on the pooled vector before the classifier.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initializer of the linear layers.
        pad_token_id (`int`, *optional*, defaults to 0):
            Id of the padding token, whose embedding stays zero.
    """

    model_type = "imdb_lstm"

    vocab_size: int = 30000
    embedding_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    pooling: Literal["attention", "max", "mean", "max_mean"] = "max_mean"
    embedding_dropout: float | int = 0.3
    lstm_dropout: float | int = 0.0
    classifier_dropout: float | int = 0.3
    initializer_range: float | int = 0.02
    pad_token_id: int | None = 0

    def __post_init__(self, **kwargs):
        if self.id2label is None and kwargs.get("num_labels") is None:
            self.id2label = dict(DEFAULT_ID2LABEL)
            self.label2id = {label: index for index, label in DEFAULT_ID2LABEL.items()}
        super().__post_init__(**kwargs)
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {getattr(self, name)}.")
        for name in ("embedding_dropout", "lstm_dropout", "classifier_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1), got {getattr(self, name)}.")


__all__ = ["LSTMSentimentConfig"]
