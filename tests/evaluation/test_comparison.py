import json

from evaluation.comparison import Row, run_record, training_command


def test_a_run_is_another_run_when_a_recipe_it_extends_is_edited(tmp_path):
    """compare.py reuses a run folder only for the same command and recipes: editing the base recipe of a variant,
    which leaves the command as it was, makes its record differ."""
    (tmp_path / "base.yaml").write_text("hidden_size: 64\ntruncation: head\n")
    (tmp_path / "variant.yaml").write_text("base_recipe: base.yaml\nadversarial_epsilon: 5.0\n")
    row = Row("variant", "scripts/train.py", [str(tmp_path / "base.yaml"), str(tmp_path / "variant.yaml")])
    command = training_command(row, ["--dataset_name", "imdb"], 42, tmp_path / "run")
    record = run_record(row, command)
    assert json.loads(json.dumps(record)) == record == run_record(row, command)  # as compare.py writes and reads it
    assert record["recipes"][1] == {"hidden_size": 64, "truncation": "head", "adversarial_epsilon": 5.0}

    (tmp_path / "base.yaml").write_text("hidden_size: 64\ntruncation: head_tail\nhead_tokens: 128\n")
    edited = run_record(row, command)
    assert edited["command"] == record["command"] and edited != record
    assert edited["recipes"][1]["truncation"] == "head_tail"
