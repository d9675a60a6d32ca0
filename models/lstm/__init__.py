from .configuration_lstm import LSTMSentimentConfig
from .modeling_lstm import LSTMForPreTraining, LSTMForSequenceClassification, LSTMModel

__all__ = ["LSTMForPreTraining", "LSTMForSequenceClassification", "LSTMModel", "LSTMSentimentConfig"]
