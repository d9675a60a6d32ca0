"""Pretrain the LSTM as forward and backward language models on the training and unlabeled reviews, and write a
Hub-ready folder that a classifier starts from (configs/lstm_pretrained.yaml), as a BERT checkpoint is fine-tuned.

    python scripts/pretrain.py configs/pretrain/lstm.yaml [--key value ...]
    python scripts/pretrain.py configs/pretrain/lstm.yaml --resume_from_checkpoint true   # continue a stopped run

The recipe (YAML) sets every argument; `--key value` overrides it, e.g. `--dataset_name path/to/imdb`.
`--help` lists all arguments: data (trainers.arguments.PretrainingDataArguments), model hyperparameters (from
`LSTMSentimentConfig`) and `TrainingArguments`. Validation perplexity is measured on held-out unlabeled reviews
each epoch; the folder keeps the checkpoint with the lowest.
"""

from transformers import set_seed

from model_cards.publishing import check_run, finish_run
from models import LSTMForPreTraining
from trainers.approaches import parse_run_arguments
from trainers.builders import lstm_builder
from trainers.pretraining import (
    build_pretraining_trainer,
    corpus_statistics,
    load_pretraining_corpus,
    pack_reviews,
    pretrain_and_save,
    pretraining_tokenizer,
)
from trainers.script_logging import setup_logging


def main(args: list[str] | None = None) -> dict:
    data_args, model_args, training_args, recipe = parse_run_arguments("pretraining", args)
    setup_logging(training_args)
    push_to_hub = check_run(training_args, recipe)
    set_seed(training_args.seed)
    corpus = load_pretraining_corpus(data_args, training_args.seed)
    tokenizer = pretraining_tokenizer(corpus, data_args, model_args.vocab_size, training_args)
    segments = pack_reviews(corpus, tokenizer, data_args.segment_length, training_args)
    model = lstm_builder(model_args, tokenizer, model_class=LSTMForPreTraining)({})
    trainer = build_pretraining_trainer(model, training_args, segments, tokenizer)
    statistics = corpus_statistics(corpus, segments, data_args.segment_length)
    results = pretrain_and_save(trainer, recipe, statistics, training_args.resume_from_checkpoint)
    if trainer.is_world_process_zero():
        finish_run(training_args, results, push_to_hub)
    return results


if __name__ == "__main__":
    main()
