"""The `pipeline("sentiment-analysis")` class that an LSTM model folder ships (`custom_pipelines` in its
`config.json`), so that `pipeline(..., trust_remote_code=True)` users get the speed and the cut of the model card's
figures.

A batch is padded to its longest review, and IMDB reviews run from 10 to over 1,000 tokens: batches in arrival order
spent three quarters of the LSTM's time on padding (108 reviews/s at batch size 64, against 453 on length-sorted
batches). This pipeline sees the whole list it is given, so it labels it in length order and gives the results back
in the order given. It also truncates by default, by the rule the tokenizer saved with the model declares. This file
imports only `transformers`, because it is copied into the model folder and loaded there without this project.
"""

from transformers import TextClassificationPipeline


class SortedTextClassificationPipeline(TextClassificationPipeline):
    """`TextClassificationPipeline` that batches a list of texts in length order and truncates unless told not to."""

    def _sanitize_parameters(self, **kwargs):
        kwargs.setdefault("truncation", True)
        return super()._sanitize_parameters(**kwargs)

    def __call__(self, inputs, **kwargs):
        if not isinstance(inputs, list) or len(inputs) < 2 or not all(isinstance(text, str) for text in inputs):
            return super().__call__(inputs, **kwargs)
        order = sorted(range(len(inputs)), key=lambda index: len(inputs[index]))
        results = super().__call__([inputs[index] for index in order], **kwargs)
        in_given_order = [None] * len(inputs)
        for position, index in enumerate(order):
            in_given_order[index] = results[position]
        return in_given_order


__all__ = ["SortedTextClassificationPipeline"]
