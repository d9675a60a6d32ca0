from .configuration_lstm import LSTMSentimentConfig
from .modeling_lstm import LSTMForSequenceClassification

__all__ = ["LSTMForSequenceClassification", "LSTMSentimentConfig"]
