"""A Hugging Face Space of the demo, written as a folder that runs from itself alone (`scripts/make_space.py`).

The project is not on PyPI, so the Space carries the code the demo runs: `inference/demo.py` and the project modules it
imports, found by following its imports (not the training machinery, which would bring optuna, scikit-learn and
more). Model folders are copied in as they would be published to the Hub (no checkpoints or pickles); Hub ids are
loaded from the Hub when the Space starts and listed in its metadata. `requirements.txt` pins, to the versions
installed here, every library the Space's Python files import, its model folders' code included, so the Space runs
what was tested here. PyTorch comes from the CPU wheel index (a Space's free hardware has no GPU; PyPI's Linux wheel
would bring gigabytes of CUDA libraries).

    space/
      README.md           the Space's metadata (YAML: sdk gradio, sdk_version, app_file, models, tags...)
      app.py              runs the demo (inference/demo.py) over the models named
      inference/          the demo and the project modules it imports
      model_folders/NAME  each model given as a folder
      requirements.txt
"""

import ast
import platform
import shutil
import sys
from importlib.metadata import packages_distributions, requires, version
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from inference.sources import SourceError, check_model_folder

from .hub import files_to_upload

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_MODULE = PROJECT_ROOT / "inference" / "demo.py"
MODEL_FOLDERS = "model_folders"
# A Space's free hardware is a CPU: its PyTorch wheels are a fraction of the size of PyPI's CUDA build.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The Space's own metadata; the reference: https://huggingface.co/docs/hub/spaces-config-reference
SPACE_TAGS = ["sentiment-analysis", "text-classification", "imdb"]
SHORT_DESCRIPTION = "Movie review sentiment: see each label's probability"  # at most 60 characters


def make_space(models: dict[str, str], output_dir: Path, title: str, torch_index_url: str | None) -> None:
    """Writes the Space for `models` ({name: folder or Hub id}, in the order the demo offers them) to `output_dir`,
    which must not exist yet or be empty."""
    if output_dir.exists() and any(output_dir.iterdir()):
        raise SourceError(f"'{output_dir}' is not empty: give a new folder.")
    # Where the Space finds each model: a folder of its own, or a Hub id (check_model_folder refuses anything else).
    sources: dict[str, str | Path] = {}
    for name, model in models.items():
        check_model_folder(model)
        sources[name] = Path(MODEL_FOLDERS) / name if Path(model).is_dir() else model
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        if Path(model).is_dir():
            for file in files_to_upload(model):
                copy_file(Path(model) / file, output_dir / MODEL_FOLDERS / name / file)
    for module in [DEMO_MODULE.relative_to(PROJECT_ROOT), *project_modules(DEMO_MODULE)]:
        copy_file(PROJECT_ROOT / module, output_dir / module)
    (output_dir / "app.py").write_text(app_source(sources))
    (output_dir / "requirements.txt").write_text(requirements(output_dir, torch_index_url))
    (output_dir / "README.md").write_text(space_card(title, sources))


def copy_file(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)


def project_modules(script: Path) -> list[Path]:
    """The project's files that `script` imports, directly or through each other, and their packages' __init__.py,
    relative to the project root."""
    found: set[Path] = set()
    pending = [script]
    while pending:
        path = pending.pop()
        package = ".".join(path.relative_to(PROJECT_ROOT).parent.parts)
        for name in imported_names(path, package):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                base = PROJECT_ROOT.joinpath(*parts[:depth])
                for candidate in (base / "__init__.py", base.with_suffix(".py")):
                    relative = candidate.relative_to(PROJECT_ROOT)
                    if candidate.is_file() and relative not in found:
                        found.add(relative)
                        pending.append(candidate)
    return sorted(found)


def imported_names(path: Path, package: str) -> set[str]:
    """The modules `path` imports, relative imports resolved against `package`; `from a import b` gives `a.b` too,
    since b may be a module."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1] if package else []
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name}


def requirements(space: Path, torch_index_url: str | None) -> str:
    """`name==version`, as installed here, for each distribution that a Python file of the Space imports (its own
    modules and the standard library left out) and for all they require: the Space installs what ran here. PyTorch
    comes first, from `torch_index_url` when given."""
    own = {path.stem for path in space.glob("*.py")} | {path.name for path in space.iterdir() if path.is_dir()}
    distributions = packages_distributions()
    imported = set()
    for path in space.rglob("*.py"):
        for name in imported_names(path, ".".join(path.relative_to(space).parent.parts)):
            top_level = name.split(".")[0]
            if top_level not in own and top_level not in sys.stdlib_module_names:
                imported.update(distributions.get(top_level, []))
    pins = installed_closure(imported)
    if "torch" not in pins:
        raise ValueError("The Space's code does not import torch: its requirements would be wrong.")
    lines = [f"--extra-index-url {torch_index_url}"] if torch_index_url else []
    lines += [f"torch=={pins.pop('torch')}"] + [f"{name}=={pins[name]}" for name in sorted(pins)]
    return "\n".join(lines) + "\n"


def installed_closure(names: set[str]) -> dict[str, str]:
    """{distribution: installed version} for `names` and, recursively, what they require on this platform (extras
    left out). A local version label such as `+cpu` names a build, not a release, and is dropped, so that the pin
    matches the release on any index."""
    pins: dict[str, str] = {}
    pending = list(names)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in pins:
            continue
        pins[name] = version(name).split("+")[0]
        for requirement in map(Requirement, requires(name) or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return pins


def app_source(sources: dict[str, str | Path]) -> str:
    models = ",\n".join(
        f"    ({name!r}, SPACE / {source.as_posix()!r})" if isinstance(source, Path) else f"    ({name!r}, {source!r})"
        for name, source in sources.items()
    )
    return f'''"""The Space's entry point, written by scripts/make_space.py of the imdb-sentiment project: its Gradio demo
(inference/demo.py, with the project code it runs) over the models below, folders of this Space or Hub ids. Gradio's
variables (GRADIO_SERVER_NAME, GRADIO_SERVER_PORT) set where it listens."""

from pathlib import Path

from inference.demo import build_demo, load_predictors

SPACE = Path(__file__).resolve().parent
MODELS = [
{models},
]

if __name__ == "__main__":
    build_demo(load_predictors([f"{{name}}={{model}}" for name, model in MODELS])).launch()
'''


def space_card(title: str, sources: dict[str, str | Path]) -> str:
    hub_ids = [source for source in sources.values() if isinstance(source, str)]
    metadata = {
        "title": title,
        "emoji": "🎬",
        "colorFrom": "yellow",
        "colorTo": "indigo",
        "sdk": "gradio",
        "sdk_version": version("gradio"),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "app_file": "app.py",
        "pinned": False,
        "license": "apache-2.0",
        "short_description": SHORT_DESCRIPTION,
        "tags": SPACE_TAGS,
        **({"models": hub_ids} if hub_ids else {}),
    }
    models = "\n".join(
        f"- {name}: [{source}](https://huggingface.co/{source})"
        if isinstance(source, str)
        else f"- {name}: `{source}`"
        for name, source in sources.items()
    )
    return f"""---
{yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)}---

# {title}

Type a movie review, pick a model and see how sure it is of each label. The models, trained on IMDb reviews by the
imdb-sentiment project:

{models}

To run it elsewhere: `pip install -r requirements.txt`, then `python app.py` in this folder.
"""
