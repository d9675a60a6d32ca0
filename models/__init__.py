"""The project's models, each registered with the Auto classes.

Registering makes `AutoConfig`, `AutoModel`, `AutoModelForPreTraining` and `AutoModelForSequenceClassification`
resolve them while this project is installed; `register_for_auto_class` makes `save_pretrained` write `auto_map` and
copy the model's code into the saved folder, so that `trust_remote_code=True` loads it anywhere without this project.
"""

from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification

from .lstm import LSTMForPreTraining, LSTMForSequenceClassification, LSTMModel, LSTMSentimentConfig
from .tokenization_truncation import TruncatingTokenizer
from .verbalizer import VerbalizerConfig, VerbalizerForSequenceClassification

AutoConfig.register(LSTMSentimentConfig.model_type, LSTMSentimentConfig)
AutoModel.register(LSTMSentimentConfig, LSTMModel)
AutoModelForPreTraining.register(LSTMSentimentConfig, LSTMForPreTraining)
AutoModelForSequenceClassification.register(LSTMSentimentConfig, LSTMForSequenceClassification)
LSTMSentimentConfig.register_for_auto_class()
LSTMModel.register_for_auto_class("AutoModel")
LSTMForPreTraining.register_for_auto_class("AutoModelForPreTraining")
LSTMForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")

# Saving a `TruncatingTokenizer` copies its file into the folder and names it in `tokenizer_config.json`'s `auto_map`.
TruncatingTokenizer.register_for_auto_class()

AutoConfig.register(VerbalizerConfig.model_type, VerbalizerConfig)
AutoModelForSequenceClassification.register(VerbalizerConfig, VerbalizerForSequenceClassification)
VerbalizerConfig.register_for_auto_class()
VerbalizerForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")

__all__ = [
    "LSTMForPreTraining",
    "LSTMForSequenceClassification",
    "LSTMModel",
    "LSTMSentimentConfig",
    "TruncatingTokenizer",
    "VerbalizerConfig",
    "VerbalizerForSequenceClassification",
]
