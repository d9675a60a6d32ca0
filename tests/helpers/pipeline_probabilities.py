"""Labels reviews with `pipeline("sentiment-analysis")` on a saved folder, as a Hub user would, and prints the class
probabilities of each review (in the model's label order) as one JSON list.

Usage: python run_without_project.py pipeline_probabilities.py MODEL_FOLDER REVIEWS_JSON
"""

import json
import sys

from transformers import pipeline

folder, reviews_file = sys.argv[1], sys.argv[2]
texts = json.load(open(reviews_file))
classifier = pipeline("sentiment-analysis", model=folder, trust_remote_code=True)
labels = [classifier.model.config.id2label[index] for index in range(classifier.model.config.num_labels)]
results = classifier(texts, top_k=None, batch_size=16, truncation=True)
scores = [{entry["label"]: entry["score"] for entry in result} for result in results]
print(json.dumps([[review[label] for label in labels] for review in scores]))
