import logging

import pytest
import transformers
from transformers import TrainingArguments

from trainers.script_logging import setup_logging


class ReplicaArguments(TrainingArguments):
    """Arguments as a process other than the main one sees them under `accelerate launch`."""

    @property
    def should_log(self) -> bool:
        return False


@pytest.fixture(autouse=True)
def restore_levels():
    verbosity, level = transformers.utils.logging.get_verbosity(), logging.getLogger("trainers").level
    yield
    transformers.utils.logging.set_verbosity(verbosity)
    logging.getLogger("trainers").setLevel(level)


def test_the_main_process_logs_at_info_and_the_others_at_warning(tmp_path):
    setup_logging(TrainingArguments(output_dir=str(tmp_path), use_cpu=True))
    assert transformers.utils.logging.get_verbosity() == logging.INFO
    assert logging.getLogger("trainers").getEffectiveLevel() == logging.INFO

    setup_logging(ReplicaArguments(output_dir=str(tmp_path), use_cpu=True))
    assert transformers.utils.logging.get_verbosity() == logging.WARNING
    assert logging.getLogger("trainers.run").getEffectiveLevel() == logging.WARNING
    # --log_level_replica changes it.
    setup_logging(ReplicaArguments(output_dir=str(tmp_path), use_cpu=True, log_level_replica="error"))
    assert transformers.utils.logging.get_verbosity() == logging.ERROR


def test_scripts_without_training_arguments_log_their_own_messages_at_info():
    setup_logging()
    assert logging.getLogger("evaluation.comparison").getEffectiveLevel() == logging.INFO
