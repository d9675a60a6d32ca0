import pytest

from models import LSTMSentimentConfig
from trainers.arguments import DataArguments, SentimentTrainingArguments, config_arguments, parse_recipe

LSTMArguments = config_arguments(LSTMSentimentConfig, exclude=("pad_token_id",))
TYPES = (DataArguments, LSTMArguments, SentimentTrainingArguments)


def test_recipe_sets_values_and_command_line_overrides_them(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("hidden_size: 64\npooling: attention\nlearning_rate: 2.0e-3\noutput_dir: out\nmax_length: 300\n")
    data_args, model_args, training_args = parse_recipe(TYPES, [str(recipe), "--hidden_size", "32", "--seed", "7"])
    assert model_args.hidden_size == 32 and model_args.pooling == "attention"
    assert training_args.learning_rate == 2e-3 and training_args.seed == 7 and training_args.output_dir == "out"
    assert data_args.max_length == 300
    # Fields the recipe leaves out keep the config class's own defaults: one place for each fact.
    assert model_args.embedding_dim == LSTMSentimentConfig().embedding_dim


def test_model_arguments_come_from_the_config_class_with_its_documentation():
    fields = LSTMArguments.__dataclass_fields__
    assert "pad_token_id" not in fields and "id2label" not in fields
    assert set(fields) == {
        "vocab_size", "embedding_dim", "hidden_size", "num_layers", "bidirectional", "pooling",
        "embedding_dropout", "lstm_dropout", "classifier_dropout", "initializer_range",
    }  # fmt: skip
    assert fields["embedding_dropout"].type is float
    assert fields["hidden_size"].metadata["help"] == "Size of the LSTM state in each direction."


def test_unknown_keys_and_bad_values_stop_with_a_message(tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("hidden_sise: 64\n")
    with pytest.raises(SystemExit):
        parse_recipe(TYPES, [str(recipe)])
    assert "unknown keys: hidden_sise" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_recipe(TYPES, ["--pooling", "median"])
    assert "invalid choice: 'median'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_recipe(TYPES, [str(tmp_path / "missing.yaml")])
    assert "missing.yaml does not exist" in capsys.readouterr().err
