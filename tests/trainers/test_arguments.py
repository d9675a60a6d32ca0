import pytest
import yaml

from models import LSTMSentimentConfig
from trainers.arguments import (
    DataArguments,
    EncoderArguments,
    LSTMArguments,
    SentimentTrainingArguments,
    config_arguments,
    parse_recipe,
)

from ..conftest import LSTM_RECIPE, PROJECT_ROOT

TYPES = (DataArguments, LSTMArguments, SentimentTrainingArguments)


def test_recipe_sets_values_and_command_line_overrides_them(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("hidden_size: 64\npooling: attention\nlearning_rate: 2.0e-3\noutput_dir: out\nmax_length: 300\n")
    data_args, model_args, training_args, _ = parse_recipe(TYPES, [str(recipe), "--hidden_size", "32", "--seed", "7"])
    assert model_args.hidden_size == 32 and model_args.pooling == "attention"
    assert training_args.learning_rate == 2e-3 and training_args.seed == 7 and training_args.output_dir == "out"
    assert data_args.max_length == 300
    # Fields the recipe leaves out keep the config class's own defaults: one place for each fact.
    assert model_args.embedding_dim == LSTMSentimentConfig().embedding_dim


def test_model_arguments_come_from_the_config_class_with_its_documentation():
    fields = LSTMArguments.__dataclass_fields__
    assert "pad_token_id" not in fields and "id2label" not in fields
    assert set(fields) == {
        "vocab_size", "embedding_dim", "hidden_size", "num_layers", "bidirectional", "cell_type", "pooling",
        "embedding_dropout", "lstm_dropout", "classifier_dropout", "classification_loss", "label_smoothing",
        "confidence_penalty_weight", "adversarial_epsilon", "virtual_adversarial_epsilon", "virtual_adversarial_xi",
        "virtual_adversarial_weight", "entropy_minimization_weight", "distillation_weight", "distillation_temperature",
        "word_dropout", "layer_norm", "num_sampled_negatives", "tie_word_embeddings", "initializer_range",
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


def test_a_runs_recipe_parses_back_to_the_same_arguments(tmp_path):
    *parsed, recipe = parse_recipe(TYPES, [str(LSTM_RECIPE), "--hidden_size", "48", "--max_train_samples", "100"])
    assert recipe["hidden_size"] == 48 and recipe["max_train_samples"] == 100 and recipe["seed"] == 42
    assert recipe["learning_rate"] == pytest.approx(4.7e-3) and recipe["report_to"] == "none"
    never_set = {"logging_dir", "use_cpu", "remove_unused_columns", "skip_memory_metrics", "dataloader_pin_memory"}
    assert not never_set & set(recipe), "defaults the user never set stay out"
    recipe_file = tmp_path / "training_recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe))
    *reparsed, recipe_again = parse_recipe(TYPES, [str(recipe_file)])
    assert reparsed[0] == parsed[0] and reparsed[1] == parsed[1]
    assert reparsed[2].to_dict() == parsed[2].to_dict()
    assert recipe_again == recipe


def test_later_recipes_override_earlier_ones(tmp_path):
    model_recipe = PROJECT_ROOT / "configs" / "finetune" / "bert.yaml"
    preset = PROJECT_ROOT / "configs" / "finetune" / "presets" / "aggressive.yaml"
    data_args, encoder_args, training_args, recipe = parse_recipe(
        (DataArguments, EncoderArguments, SentimentTrainingArguments), [str(model_recipe), str(preset), "--seed", "3"]
    )
    assert encoder_args.model_name_or_path == "google-bert/bert-base-uncased" and data_args.head_tokens == 128
    assert (training_args.learning_rate, training_args.per_device_train_batch_size) == (5e-5, 32)
    assert training_args.num_train_epochs == 1 and training_args.seed == 3
    assert recipe["learning_rate"] == 5e-5 and recipe["model_name_or_path"] == "google-bert/bert-base-uncased"


def test_a_run_without_recipe_file_records_what_its_card_states_at_their_defaults():
    # The model card names them.
    *_, recipe = parse_recipe((DataArguments, EncoderArguments, SentimentTrainingArguments), ["--output_dir", "out"])
    assert recipe == {
        "dataset_name": "stanfordnlp/imdb",
        "max_length": 512,
        "truncation": "head",
        "model_name_or_path": "answerdotai/ModernBERT-base",
        "output_dir": "out",
        "seed": 42,
    }


@pytest.mark.parametrize("value", ["1.0", "-0.1"])
def test_an_attention_dropout_outside_0_to_1_is_refused_before_any_work(value, capsys):
    with pytest.raises(SystemExit):
        parse_recipe((DataArguments, EncoderArguments, SentimentTrainingArguments), ["--attention_dropout", value])
    assert f"attention_dropout must be in [0, 1), got {float(value)}" in capsys.readouterr().err


def test_attention_dropout_sets_the_field_each_encoder_config_names_and_refuses_a_model_without_one():
    from transformers import AlbertConfig, DistilBertConfig, ModernBertConfig

    from trainers.builders import attention_dropout_settings

    assert attention_dropout_settings(AlbertConfig().to_dict(), "albert", 0.0) == {"attention_probs_dropout_prob": 0.0}
    assert attention_dropout_settings(DistilBertConfig().to_dict(), "distilbert", 0.2) == {"attention_dropout": 0.2}
    assert attention_dropout_settings(ModernBertConfig().to_dict(), "modernbert", None) == {}
    with pytest.raises(ValueError, match="The config of outputs/lstm has no attention dropout to set"):
        attention_dropout_settings(LSTMSentimentConfig().to_dict(), "outputs/lstm", 0.0)


def test_list_hyperparameters_take_several_values_and_default_to_the_config_class():
    from models import VerbalizerConfig

    verbalizer_arguments = config_arguments(VerbalizerConfig, exclude=("encoder_config",))
    types = (verbalizer_arguments, SentimentTrainingArguments)
    model_args, _, _ = parse_recipe(types, ["--output_dir", "out"])
    assert model_args.mlp_hidden_sizes == [256, 128, 64] and model_args.label_words == [" terrible", " great"]
    model_args, _, recipe = parse_recipe(types, ["--mlp_hidden_sizes", "8", "4", "--output_dir", "out"])
    assert model_args.mlp_hidden_sizes == [8, 4] and recipe["mlp_hidden_sizes"] == [8, 4]
