"""Every practice stub (`<name>_stub.py`) offers what its reference
solution offers: the same public functions, classes and methods, with the
same signatures, so a reader's filled-in stub is tested against the API the
chapter's tests call. (That each stub fails those tests is checked by
`cargo test -p xtask --test practice`.)"""

import importlib.util
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
STUBS = sorted(HERE.glob("*_stub.py"))


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def public(namespace: Any) -> dict[str, Any]:
    """Public callables defined in `namespace` itself (not imported)."""
    owner = getattr(namespace, "__name__", None)
    found = {}
    for name, value in vars(namespace).items():
        if name.startswith("_") or not callable(value):
            continue
        if (
            inspect.isclass(namespace)
            or getattr(value, "__module__", None) == owner
        ):
            found[name] = value
    return found


def signature(value: Any) -> str:
    """The signature as text, with the module's own name taken out of the
    annotations (the stub and the reference live in different modules),
    and addresses out of default values."""
    try:
        text = str(inspect.signature(value))
    except (TypeError, ValueError):  # builtins and some classes
        return "?"
    module = getattr(value, "__module__", "") or ""
    # A default such as a lambda shows its address, which differs per load.
    return re.sub(r" at 0x[0-9a-f]+", "", text.replace(f"{module}.", ""))


def test_there_is_a_stub_per_problem() -> None:
    assert len(STUBS) >= 10, [s.name for s in STUBS]


@pytest.mark.parametrize("stub_path", STUBS, ids=lambda p: p.stem)
def test_the_stub_offers_the_reference_api(stub_path: Path) -> None:
    name = stub_path.stem.removesuffix("_stub")
    stub = load(stub_path, f"stub_{name}")
    reference = load(HERE / f"{name}.py", f"reference_{name}")
    offered = public(stub)
    assert offered, f"{stub_path.name} offers nothing"
    expected = public(reference)
    for item, value in offered.items():
        assert item in expected, f"{stub_path.name}: {item} is not in {name}.py"
        assert signature(value) == signature(expected[item]), item
        if inspect.isclass(value):
            for method, impl in public(value).items():
                wanted = public(expected[item]).get(method)
                assert wanted is not None, f"{item}.{method} not in {name}.py"
                assert signature(impl) == signature(wanted), f"{item}.{method}"
