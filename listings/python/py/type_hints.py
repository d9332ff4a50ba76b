"""1.6 Type hints: what the runtime ignores and what mypy catches.

Shows, asserting each claim:
- ``typing.Protocol`` (PEP 544): a class satisfies a protocol by shape, with
  no inheritance; ``@runtime_checkable`` only checks that the names exist;
- a generic function and class written with ``TypeVar`` (the PEP 695
  ``def first[T](...)`` spelling needs 3.12; on 3.12+ it is checked too,
  silently, so the output does not depend on the version);
- ``TypedDict`` (PEP 589) with ``NotRequired`` (PEP 655, 3.11): at run time
  it is a plain ``dict`` and nothing is validated;
- annotations are data, not checks: a string annotation stays a string in
  ``__annotations__`` and ``typing.get_type_hints`` evaluates it, and a call
  with the wrong type runs anyway;
- mypy, run as ``python -m mypy`` on snippets in a temporary directory
  with a config of our own: a wrong snippet exits 1 naming ``[arg-type]``
  (twice: a ``str`` for an ``int``, an ``int`` for a ``NewType``) and
  ``[typeddict-item]``; a correct one exits 0; an unannotated module's
  function bodies are skipped by default, and a per-module override
  (``[mypy-legacy_billing]``, the gradual-rollout tool) turns on
  ``disallow_untyped_defs`` and ``check_untyped_defs`` for it alone, and
  ``strict = True`` in a per-module section holds a new module to
  ``--strict``;
- a baseline ratchet: the errors a legacy module has today are recorded
  without line numbers; after a change, an error not in the baseline is
  reported as new (CI fails) and one that disappeared as fixed;
- the typing timeline: for each typing PEP from 484 to 749, a marker
  visible at run time (a ``typing`` name, a module, a syntax) exists on
  this interpreter exactly when its version is at least the PEP's.

mypy comes from ``listings/requirements.txt``, which ``cargo test`` installs
into ``.venv/py3.X/`` and whose python then runs this script. Run by an
interpreter without mypy, the script says so on stderr and exits 77 (a skip).
"""

import importlib.util
import re
import subprocess
import sys
import tempfile
import typing
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Any,
    Generic,
    NewType,
    NotRequired,
    Protocol,
    TypedDict,
    TypeVar,
    get_type_hints,
    runtime_checkable,
)


# ANCHOR: protocol
class SupportsClose(Protocol):
    def close(self) -> None: ...


class DbConnection:  # does not inherit from SupportsClose
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def close_all(resources: Iterable[SupportsClose]) -> int:
    count = 0
    for resource in resources:
        resource.close()
        count += 1
    return count


@runtime_checkable
class Closeable(Protocol):
    def close(self) -> None: ...


class Impostor:
    close = "not a method"  # isinstance only checks that the name exists
    # ANCHOR_END: protocol


# ANCHOR: generics
T = TypeVar("T")  # on 3.12+: def first[T](items: Sequence[T]) -> T | None


def first(items: Sequence[T]) -> T | None:
    return items[0] if items else None


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    # ANCHOR_END: generics


# ANCHOR: typeddict
class UserPayload(TypedDict):
    id: int
    email: str
    nickname: NotRequired[str]


def display_name(user: UserPayload) -> str:
    return user.get("nickname", user["email"])


def double(x: int) -> int:
    return x * 2


# A distinct type for mypy, a plain int at run time:
UserId = NewType("UserId", int)


def greet(user: "UserPayload") -> str:  # a forward reference, as a string
    return "hello " + display_name(user)
    # ANCHOR_END: typeddict


def typing_has(name: str) -> Callable[[], bool]:
    return lambda: hasattr(typing, name)


def module_exists(name: str) -> Callable[[], bool]:
    return lambda: importlib.util.find_spec(name) is not None


def evaluates(source: str) -> Callable[[], bool]:
    """True if the expression or statement runs on this interpreter."""

    def check() -> bool:
        try:
            exec(source, {})
        except (SyntaxError, TypeError):
            return False
        return True

    return check


# ANCHOR: timeline
# (PEP, the Python version it shipped in, a marker visible at run time);
# None for a PEP that changed only what type checkers accept.
TIMELINE: list[tuple[int, tuple[int, int], Callable[[], bool] | None]] = [
    (484, (3, 5), typing_has("TypeVar")),
    (526, (3, 6), evaluates("x: int = 1")),
    (544, (3, 8), typing_has("Protocol")),
    (586, (3, 8), typing_has("Literal")),
    (589, (3, 8), typing_has("TypedDict")),
    (591, (3, 8), typing_has("Final")),
    (585, (3, 9), evaluates("list[int]")),
    (593, (3, 9), typing_has("Annotated")),
    (604, (3, 10), evaluates("int | str")),
    (612, (3, 10), typing_has("ParamSpec")),
    (613, (3, 10), typing_has("TypeAlias")),
    (646, (3, 11), typing_has("TypeVarTuple")),
    (655, (3, 11), typing_has("NotRequired")),
    (673, (3, 11), typing_has("Self")),
    (675, (3, 11), typing_has("LiteralString")),
    (681, (3, 11), typing_has("dataclass_transform")),
    (692, (3, 12), None),  # Unpack[SomeTypedDict] for **kwargs
    (695, (3, 12), typing_has("TypeAliasType")),
    (698, (3, 12), typing_has("override")),
    (696, (3, 13), typing_has("NoDefault")),
    (702, (3, 13), lambda: hasattr(warnings, "deprecated")),
    (705, (3, 13), typing_has("ReadOnly")),
    (742, (3, 13), typing_has("TypeIs")),
    (649, (3, 14), module_exists("annotationlib")),
    (749, (3, 14), module_exists("annotationlib")),
]


def timeline_mismatches() -> list[int]:
    """PEPs whose marker is present before its version, or missing after."""
    return [
        pep
        for pep, version, marker in TIMELINE
        if marker is not None and marker() != (sys.version_info >= version)
    ]
    # ANCHOR_END: timeline


def check_pep695_if_available() -> None:
    """PEP 695 syntax is a SyntaxError before 3.12, so it lives in a string."""
    if sys.version_info < (3, 12):
        return
    namespace: dict[str, Any] = {}
    exec("def first[T](items: list[T]) -> T:\n    return items[0]\n", namespace)
    params = namespace["first"].__type_params__
    assert [p.__name__ for p in params] == ["T"]


# ANCHOR: snippets
WRONG = """\
from typing import NewType, NotRequired, TypedDict

UserId = NewType("UserId", int)

class UserPayload(TypedDict):
    id: int
    email: str
    nickname: NotRequired[str]

def double(x: int) -> int:
    return x * 2

def ban(user: UserId) -> None: ...

double("ab")
payload: UserPayload = {"id": "7", "email": "ada@example.com"}
ban(42)
"""

CORRECT = (
    WRONG.replace('double("ab")', "double(21)")
    .replace('"7"', "7")
    .replace("ban(42)", "ban(UserId(42))")
)

UNANNOTATED = """\
def legacy_total(prices):
    return sum(prices) + len(5)
"""

DEFAULT_CONFIG = "[mypy]\n"

RATCHET_CONFIG = """\
[mypy]

[mypy-legacy_billing]
disallow_untyped_defs = True
check_untyped_defs = True
"""

NEW_CODE_CONFIG = """\
[mypy]

[mypy-billing_v2]
strict = True
"""
# ANCHOR_END: snippets

# ANCHOR: legacy
LEGACY_TODAY = """\
def total(prices):
    return sum(prices) + len(5)

def label(code):
    return code.upper()
"""

LEGACY_AFTER_A_CHANGE = """\
def total(prices):
    return sum(prices) + len(5)

def label(code: str) -> str:
    return code.upper()

def refund(cents: int) -> str:
    return cents
"""
# ANCHOR_END: legacy


@dataclass
class MypyRun:
    exit_code: int
    errors: list[str]  # "line N: error: ... [code]", without the file name

    @property
    def codes(self) -> list[str]:
        return [
            m.group(1)
            for e in self.errors
            if (m := re.search(r"\[([a-z-]+)\]$", e))
        ]


# ANCHOR: run_mypy
def run_mypy(workdir: Path, module: str, source: str, config: str) -> MypyRun:
    snippet = workdir / f"{module}.py"
    snippet.write_text(source)
    config_file = workdir / "mypy.ini"
    config_file.write_text(config)  # ours, so no project or user config applies
    command = [sys.executable, "-m", "mypy", "--config-file", str(config_file)]
    command += ["--cache-dir", str(workdir / ".mypy_cache")]  # shared by runs
    command += ["--no-color-output", "--no-error-summary", snippet.name]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=300
    )
    errors = [
        "line " + line.split(":", 1)[1].strip()
        for line in done.stdout.splitlines()
        if line.startswith(snippet.name + ":") and ": error:" in line
    ]
    return MypyRun(done.returncode, errors)
    # ANCHOR_END: run_mypy


# ANCHOR: ratchet
def known_errors(run: MypyRun) -> Counter[str]:
    """The baseline file's content: each error without its line number, so
    that editing code above an old error does not make it look new."""
    return Counter(error.split(": ", 1)[1] for error in run.errors)


def ratchet(
    baseline: Counter[str], run: MypyRun
) -> tuple[list[str], list[str]]:
    """CI fails on any error not in the baseline; errors that disappeared
    are reported so the baseline can shrink and never grow back."""
    current = known_errors(run)
    new = sorted((current - baseline).elements())
    fixed = sorted((baseline - current).elements())
    return new, fixed
    # ANCHOR_END: ratchet


def show_protocol() -> None:
    connections = [DbConnection(), DbConnection()]
    assert close_all(connections) == 2 and all(c.closed for c in connections)
    assert SupportsClose not in DbConnection.__mro__
    try:
        isinstance(DbConnection(), SupportsClose)  # type: ignore[misc]
        raise AssertionError("a plain Protocol cannot be used with isinstance")
    except TypeError:
        pass  # only @runtime_checkable protocols support isinstance
    assert isinstance(DbConnection(), Closeable)
    assert isinstance(Impostor(), Closeable)
    inherits = SupportsClose in DbConnection.__mro__
    print("Protocol: DbConnection closes without inheriting:", not inherits)
    impostor_passes = isinstance(Impostor(), Closeable)
    print(
        "runtime_checkable: isinstance(Impostor(), Closeable) =",
        impostor_passes,
    )


def show_generics_and_typeddict() -> None:
    assert first([3, 1]) == 3 and first([]) is None
    page = Page(items=["a", "b"], next_cursor="c2")
    assert page.items == ["a", "b"]
    check_pep695_if_available()

    user: UserPayload = {"id": 1, "email": "ada@example.com"}
    assert type(user) is dict and display_name(user) == "ada@example.com"
    assert UserPayload.__required_keys__ == frozenset({"id", "email"})
    assert UserPayload.__optional_keys__ == frozenset({"nickname"})
    unchecked: UserPayload = {"id": "7", "email": 0}  # type: ignore[typeddict-item]
    raw_id: object = unchecked["id"]  # an int to mypy, the str "7" here
    assert raw_id == "7"
    print(
        "TypedDict: type(user) is",
        type(user).__name__,
        "| required:",
        sorted(UserPayload.__required_keys__),
        "| optional:",
        sorted(UserPayload.__optional_keys__),
    )
    print(
        'TypedDict: {"id": "7", ...} accepted at run time:',
        raw_id == "7",
    )
    assert UserId(42) == 42 and type(UserId(42)) is int
    print("NewType: type(UserId(42)) is", type(UserId(42)).__name__)


def show_runtime_view() -> None:
    assert greet.__annotations__ == {"user": "UserPayload", "return": str}
    assert get_type_hints(greet) == {"user": UserPayload, "return": str}
    doubled: object = double("ab")  # type: ignore[arg-type]
    assert doubled == "abab"
    print(
        "greet.__annotations__['user'] =", repr(greet.__annotations__["user"])
    )
    print(
        "get_type_hints(greet)['user'] is UserPayload:",
        get_type_hints(greet)["user"] is UserPayload,
    )
    print('double("ab") at run time ->', repr(doubled))


def show_mypy() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)

        wrong = run_mypy(workdir, "wrong", WRONG, DEFAULT_CONFIG)
        assert wrong.exit_code == 1, wrong
        assert wrong.codes == ["arg-type", "typeddict-item", "arg-type"], wrong
        print("mypy on WRONG: exit", wrong.exit_code)
        for error in wrong.errors:
            print("  " + error)

        correct = run_mypy(workdir, "correct", CORRECT, DEFAULT_CONFIG)
        assert correct.exit_code == 0 and correct.errors == [], correct
        print("mypy on CORRECT: exit", correct.exit_code)

        lenient = run_mypy(
            workdir, "legacy_billing", UNANNOTATED, DEFAULT_CONFIG
        )
        assert lenient.exit_code == 0 and lenient.errors == [], lenient
        print(
            "mypy on UNANNOTATED, default config: exit",
            lenient.exit_code,
            "(bodies of unannotated functions are not checked)",
        )

        ratchet = run_mypy(
            workdir, "legacy_billing", UNANNOTATED, RATCHET_CONFIG
        )
        assert ratchet.exit_code == 1, ratchet
        assert ratchet.codes == ["no-untyped-def", "arg-type"], ratchet
        print(
            "mypy on UNANNOTATED, [mypy-legacy_billing] override: exit",
            ratchet.exit_code,
        )
        for error in ratchet.errors:
            print("  " + error)

        new = run_mypy(workdir, "billing_v2", UNANNOTATED, NEW_CODE_CONFIG)
        assert new.exit_code == 1, new
        assert new.codes == ["no-untyped-def", "arg-type"], new
        print(
            "mypy on UNANNOTATED as billing_v2, "
            "[mypy-billing_v2] strict = True: exit",
            new.exit_code,
            new.codes,
        )


def show_timeline() -> None:
    mismatches = timeline_mismatches()
    assert mismatches == [], mismatches
    markers = [pep for pep, _, marker in TIMELINE if marker is not None]
    print(
        f"typing timeline: {len(TIMELINE)} PEPs; {len(markers)} runtime "
        "markers, each present from its PEP's version on and absent before"
    )


def show_ratchet() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        module = "legacy_billing"
        today = run_mypy(workdir, module, LEGACY_TODAY, RATCHET_CONFIG)
        baseline = known_errors(today)
        assert today.exit_code == 1 and sum(baseline.values()) == 3, today
        print(f"baseline: {sum(baseline.values())} known errors recorded")

        after = run_mypy(workdir, module, LEGACY_AFTER_A_CHANGE, RATCHET_CONFIG)
        new, fixed = ratchet(baseline, after)
        assert [e.endswith("[return-value]") for e in new] == [True], new
        assert [e.endswith("[no-untyped-def]") for e in fixed] == [True]
        print("after a change, new (CI fails):")
        for error in new:
            print("  " + error)
        print("after a change, fixed (shrink the baseline):")
        for error in fixed:
            print("  " + error)


def main() -> None:
    if importlib.util.find_spec("mypy") is None:
        print(
            f"mypy is not installed for {sys.executable}; run this script "
            "with a project environment's python, .venv/py3.X/bin/python, "
            "which `cargo test` creates from listings/requirements.txt",
            file=sys.stderr,
        )
        sys.exit(77)  # the exit code the test harness reads as "skipped"
    show_protocol()
    show_generics_and_typeddict()
    show_runtime_view()
    show_timeline()
    show_mypy()
    show_ratchet()


if __name__ == "__main__":
    main()
