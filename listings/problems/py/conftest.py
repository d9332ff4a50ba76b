"""The `solution` fixture: which implementation the tests of section 4 test.

Every test file here is named `test_<name>.py` and tests `<name>.py`, the
reference solution beside it. Its tests never import that module: they ask
for the `solution` fixture, which loads it. Set the environment variable
PRACTICE_FILE to the path of another file and the same tests run against
that file instead, for example a practice stub filled in by a reader:

    PRACTICE_FILE=listings/problems/py/two_sum_stub.py \\
        .venv/py3.11/bin/python -m pytest listings/problems/py/test_two_sum.py

PRACTICE_FILE replaces the module of every test file that runs, so give it
one test file at a time. The file is loaded when the first test of that
test file needs it, so a stub whose functions raise NotImplementedError
makes each test fail, rather than the whole file fail to collect.
"""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

# No per-example deadline: `cargo test` runs every test file side by side
# with the rest of the guide on two cores, and what these tests check is
# the answers, not the time an example takes (the chapters' complexity
# claims are measured by `cargo xtask bench`).
settings.register_profile("guide", deadline=None)
settings.load_profile("guide")

HERE = Path(__file__).resolve().parent
PRACTICE_FILE = "PRACTICE_FILE"


def problem_name(test_module: str) -> str:
    """`test_two_sum` (or `pkg.test_two_sum`) -> `two_sum`."""
    return test_module.rpartition(".")[2].removeprefix("test_")


def load_module(path: Path, name: str) -> ModuleType:
    """Imports the file at `path` as a module called `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise pytest.UsageError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses and pickle look a class's
    # module up in sys.modules.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def solution_path(name: str) -> Path:
    """PRACTICE_FILE when it is set, else the reference `<name>.py`."""
    practice = os.environ.get(PRACTICE_FILE)
    if not practice:
        return HERE / f"{name}.py"
    path = Path(practice).resolve()
    if not path.is_file():
        raise pytest.UsageError(f"{PRACTICE_FILE}={practice}: no such file")
    return path


@pytest.fixture(scope="module")
def solution(request: pytest.FixtureRequest) -> ModuleType:
    """The module under test for the requesting `test_<name>.py`."""
    name = problem_name(request.module.__name__)
    path = solution_path(name)
    # A practice file gets its own module name, so that it never replaces
    # the reference module in sys.modules.
    is_reference = path == HERE / f"{name}.py"
    return load_module(path, name if is_reference else f"practice_{name}")


def pytest_report_header() -> str | None:
    practice = os.environ.get(PRACTICE_FILE)
    if practice:
        return f"testing the practice file {practice}"
    return None
