"""Machinery the scripts share: data, tokenizers, arguments, metrics and the `Trainer` loop for every approach, and
the inference (`inference.py`) and REST API (`serving.py`) code that labels reviews with saved model folders."""
