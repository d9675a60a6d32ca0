"""Loads a pretraining folder (scripts/pretrain.py) as a Hub user would, and prints one JSON object of what it saw:
the base model through `AutoModel`, a classifier to fine-tune through `AutoModelForSequenceClassification` (which
must keep the base's weights and initialise only its head), and `pipeline("sentiment-analysis")`.

Usage: python run_without_project.py load_pretrained_folder.py PRETRAINED_FOLDER REVIEWS_JSON
"""

import json
import sys

import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, pipeline

folder, reviews_file = sys.argv[1], sys.argv[2]
texts = json.load(open(reviews_file))["texts"]

tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
base = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
classifier, loading = AutoModelForSequenceClassification.from_pretrained(
    folder, num_labels=2, trust_remote_code=True, output_loading_info=True
)
batch = tokenizer(texts, truncation=True, padding=True, return_tensors="pt")
with torch.inference_mode():
    outputs = base(**batch)
    logits = classifier.eval()(**batch).logits
classifier_base = classifier.base_model.state_dict()
scores = pipeline("sentiment-analysis", model=folder, trust_remote_code=True)(texts, truncation=True, top_k=None)

print(json.dumps({
    "base_class": type(base).__name__,
    "base_class_module": type(base).__module__,
    "classifier_class": type(classifier).__name__,
    "newly_initialised": sorted(loading["missing_keys"]),
    "classifier_base_equals_base": all(torch.equal(classifier_base[k], v) for k, v in base.state_dict().items()),
    "last_hidden_state_shape": list(outputs.last_hidden_state.shape),
    "pooler_output_shape": list(outputs.pooler_output.shape),
    "logits_finite": bool(torch.isfinite(logits).all()),
    "pipeline_scores": scores,
}))  # fmt: skip
