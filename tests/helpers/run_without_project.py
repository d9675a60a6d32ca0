"""Runs a Python file the way a stranger would: transformers installed, this project not importable.

Usage: python run_without_project.py SCRIPT.py [ARGS...]
Even where this project is pip-installed, `import models` / `import trainers` / `import scripts` fail in SCRIPT.
"""

import importlib.abc
import runpy
import sys

PROJECT_PACKAGES = ("models", "trainers", "scripts", "model_cards")


class BlockProjectImports(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in PROJECT_PACKAGES:
            raise ImportError(f"{fullname} is this project's code, which a Hub user does not have")
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, BlockProjectImports())
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
