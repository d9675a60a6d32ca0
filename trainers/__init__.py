"""Training machinery shared by every approach: data, tokenizers, arguments, metrics and the `Trainer` loop."""
