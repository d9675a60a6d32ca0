"""Loads a saved model folder with the Auto classes and `pipeline`, and prints one JSON object of what it saw.

Usage: python run_without_project.py load_model_folder.py MODEL_FOLDER REVIEWS_JSON
"""

import json
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

folder, reviews_file = sys.argv[1], sys.argv[2]
reviews = json.load(open(reviews_file))
texts, long_review = reviews["texts"], reviews["long_review"]

try:
    import models  # noqa: F401

    project_importable = True
except ImportError:
    project_importable = False

tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
with torch.inference_mode():
    logits = model(**tokenizer(texts, truncation=True, padding=True, return_tensors="pt")).logits
model_labels = [model.config.id2label[i] for i in logits.argmax(-1).tolist()]

classifier = pipeline("sentiment-analysis", model=folder, trust_remote_code=True)
pipeline_labels = [result["label"] for result in classifier(texts, truncation=True, batch_size=16)]
all_scores = classifier(long_review, top_k=None, truncation=True)
# A model with position embeddings cannot read past them without truncation; the LSTM (or a model that cuts its input
# itself) can, and must give scores then too.
reads_any_length = getattr(model.config, "max_position_embeddings", None) is None
untruncated = classifier(long_review, top_k=None, truncation=False) if reads_any_length else None
long_ids = classifier.tokenizer(long_review, truncation=True)["input_ids"]

print(json.dumps({
    "project_importable": project_importable,
    "model_class_module": type(model).__module__,
    "model_labels": model_labels,
    "pipeline_labels": pipeline_labels,
    "long_review_words": len(long_review.split()),
    "long_review_tokens_after_truncation": len(long_ids),
    "model_max_length": classifier.tokenizer.model_max_length,
    "long_review_last_token_ids": long_ids[-16:],
    "long_review_scores": all_scores,
    "long_review_scores_untruncated": untruncated,
}))  # fmt: skip
