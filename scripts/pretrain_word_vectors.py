"""Learn word vectors from the training and unlabeled reviews (skip-gram with negative sampling, by gensim), and
write a Hub-ready folder whose embeddings an LSTM classifier starts from:

    python scripts/pretrain_word_vectors.py configs/pretrain/word_vectors.yaml [--key value ...]
    python scripts/train.py configs/lstm_semi_supervised.yaml --pretrained_model_name_or_path FOLDER

The recipe (YAML) sets every argument; `--key value` overrides it, e.g. `--dataset_name path/to/imdb`. `--help`
lists them: data (trainers.arguments.PretrainingDataArguments; the classifier's validation reviews are left out),
word2vec's (trainers.arguments.WordVectorArguments), and the output folder and seed (`TrainingArguments`). It takes
minutes, so a stopped run is started again rather than resumed.
"""

import sys

from transformers import set_seed

from model_cards.publishing import check_run, finish_run
from trainers.approaches import parse_run_arguments
from trainers.pretraining import load_pretraining_corpus, pretraining_tokenizer
from trainers.script_logging import setup_logging
from trainers.word_vectors import save_word_vectors, train_word_vectors


def main(args: list[str] | None = None) -> dict:
    data_args, vector_args, training_args, recipe = parse_run_arguments("word_vectors", args)
    setup_logging(training_args)
    if training_args.world_size > 1:
        sys.exit("error: word vectors train in one process (gensim uses every core itself); run without accelerate.")
    push_to_hub = check_run(training_args, recipe)
    set_seed(training_args.seed)
    try:
        corpus = load_pretraining_corpus(data_args, training_args.seed)
    except ValueError as error:
        sys.exit(f"error: {error}")
    tokenizer = pretraining_tokenizer(corpus, data_args, vector_args.vocab_size, training_args)
    embeddings, results = train_word_vectors(corpus["train"]["text"], tokenizer, vector_args, training_args.seed)
    save_word_vectors(embeddings, tokenizer, training_args.output_dir, recipe, results)
    finish_run(training_args, results, push_to_hub)
    return results


if __name__ == "__main__":
    main()
