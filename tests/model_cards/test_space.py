from importlib.metadata import version
from pathlib import Path

from model_cards.space import DEMO_MODULE, TORCH_CPU_INDEX, project_modules, requirements


def test_the_space_carries_the_modules_the_demo_imports_and_no_others():
    modules = project_modules(DEMO_MODULE)
    assert {Path("inference/__init__.py"), Path("inference/predictor.py"), Path("inference/sources.py")} <= set(
        modules
    )
    assert not any(module.parts[0] in ("trainers", "evaluation", "model_cards") for module in modules)
    assert not any(module.parts[0] == "models" for module in modules), "model folders ship their own code"


def test_requirements_pin_what_the_space_imports_and_what_that_requires(tmp_path):
    (tmp_path / "app.py").write_text("import torch\nimport yaml\nfrom helpers import tool\nimport json\n")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "tool.py").write_text("from . import other\n")
    lines = requirements(tmp_path, TORCH_CPU_INDEX).splitlines()
    # PyTorch from the CPU index, first; the pin matches `2.x.y+cpu` there and a local wheel alike.
    assert lines[:2] == [f"--extra-index-url {TORCH_CPU_INDEX}", f"torch=={version('torch').split('+')[0]}"]
    assert f"pyyaml=={version('pyyaml')}" in lines and f"sympy=={version('sympy')}" in lines, "torch requires sympy"
    assert not any(line.startswith(("helpers", "json", "imdb-sentiment")) for line in lines)
    assert "--extra-index-url" not in requirements(tmp_path, None)
