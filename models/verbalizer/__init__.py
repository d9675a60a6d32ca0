from .configuration_verbalizer import VerbalizerConfig
from .modeling_verbalizer import VerbalizerForSequenceClassification

__all__ = ["VerbalizerConfig", "VerbalizerForSequenceClassification"]
