"""1.7 LEGB: how Python resolves a name, and the statements that change it.

Shows, asserting each claim:
- a name resolved in each of the four scopes: Local, Enclosing, Global,
  Builtins;
- ``global`` rebinding a module name, ``nonlocal`` rebinding a closure
  variable (a counter), and the UnboundLocalError you get without it;
- the compile-time SyntaxErrors of a misplaced ``nonlocal``;
- private name mangling: ``__token`` becomes ``_Class__token``, which keeps a
  subclass's attribute from clobbering its parent's (it is not privacy);
- the class-body scope: its names are invisible inside methods and inside
  the body of a comprehension written in the class body (the comprehension's
  first iterable is the exception);
- late-binding closures in a loop, and the ``i=i`` default-argument fix.

The class-body rule is checked at run time on whatever CPython runs this, so
the output is the same on 3.11 and on 3.12+, where PEP 709 inlined
comprehensions but kept this rule.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import ClassVar

# ANCHOR: legb
scope = "global"


def read_global() -> str:
    return scope  # no local, no enclosing binding: the module's


def outer() -> tuple[str, str]:
    scope = "enclosing"

    def read_local() -> str:
        scope = "local"
        return scope

    def read_enclosing() -> str:
        return scope  # found in outer()'s frame, through a closure cell

    return read_local(), read_enclosing()


def read_builtin() -> Callable[..., int]:
    return len  # not local, enclosing or global: the builtins module
    # ANCHOR_END: legb


# ANCHOR: global_nonlocal
requests_served = 0


def serve() -> int:
    global requests_served  # rebind the module's name, not a new local
    requests_served += 1
    return requests_served


def make_counter() -> Callable[[], int]:
    count = 0

    def increment() -> int:
        nonlocal count  # rebind outer()'s cell, the closure analogue of global
        count += 1
        return count

    return increment


def make_broken_counter() -> Callable[[], int]:
    count = 0

    def increment() -> int:
        # An assignment anywhere in the body makes `count` local, so this
        # reads a local that has no value yet: UnboundLocalError.
        count += 1  # noqa: F823 (the error this function exists to show)
        return count

    return increment
    # ANCHOR_END: global_nonlocal


# ANCHOR: mangling
class Session:
    def __init__(self) -> None:
        self.__token = "parent-secret"  # stored as _Session__token

    def parent_token(self) -> str:
        return self.__token


class AdminSession(Session):
    def __init__(self) -> None:
        super().__init__()
        self.__token = "admin-secret"  # _AdminSession__token: no clash

    def admin_token(self) -> str:
        return self.__token


class _Internal:
    __flag = True  # leading underscores of the class name are stripped
    # ANCHOR_END: mangling


# ANCHOR: class_scope
def class_body_comprehension() -> list[int]:
    class Pricing:
        rate = 3
        # Only the first iterable, range(2), is evaluated in the class body.
        # The element expression runs in the comprehension's own scope,
        # whose lookups skip the class body: `rate` is not found.
        scaled: ClassVar[list[int]] = [
            rate * n  # type: ignore[name-defined]  # noqa: F821 (NameError)
            for n in range(2)
        ]

    return Pricing.scaled


def class_body_first_iterable() -> list[int]:
    class Pricing:
        rate = 3
        steps: ClassVar[list[int]] = [n for n in range(rate)]

    return Pricing.steps


class Pricing:
    rate = 3

    def broken_total(self, n: int) -> int:
        total: int = rate * n  # type: ignore[name-defined]  # noqa: F821
        return total  # never reached: the line above raises NameError

    def total(self, n: int) -> int:
        return self.rate * n
        # ANCHOR_END: class_scope


# ANCHOR: late_binding
def late_bound() -> list[int]:
    callbacks: list[Callable[[], int]] = [
        lambda: i  # noqa: B023 (on purpose: all share one `i`)
        for i in range(3)
    ]
    return [f() for f in callbacks]


def early_bound() -> list[int]:
    # A default is evaluated when the lambda is made, so each keeps its own
    # `i` (and takes an optional argument: hence `...` in the type).
    callbacks: list[Callable[..., int]] = [lambda i=i: i for i in range(3)]
    return [f() for f in callbacks]
    # ANCHOR_END: late_binding


def error_type(action: Callable[[], object]) -> type[BaseException]:
    try:
        action()
    except (NameError, SyntaxError) as e:
        return type(e)
    raise AssertionError("expected an error")


def show_legb() -> None:
    local, enclosing = outer()
    assert (local, enclosing, read_global()) == ("local", "enclosing", "global")
    assert read_builtin() is builtins.len
    assert outer.__code__.co_cellvars == ("scope",)
    print(
        "L:",
        local,
        "| E:",
        enclosing,
        "| G:",
        read_global(),
        "| B: len is builtins.len:",
        read_builtin() is builtins.len,
    )


def show_global_and_nonlocal() -> None:
    assert (serve(), serve()) == (1, 2) and requests_served == 2
    print("global: requests_served after two calls =", requests_served)

    first, second = make_counter(), make_counter()
    counts = [first(), first(), first(), second()]
    assert counts == [1, 2, 3, 1]
    assert first.__code__.co_freevars == ("count",)
    cell = first.__closure__[0] if first.__closure__ else None
    assert cell is not None and cell.cell_contents == 3
    print(
        "nonlocal: two counters ->",
        counts,
        "| free variable:",
        first.__code__.co_freevars,
    )

    broken = error_type(make_broken_counter())
    assert broken is UnboundLocalError and issubclass(broken, NameError)
    print("without nonlocal:", broken.__name__, "(a subclass of NameError)")

    module_level = error_type(lambda: compile("nonlocal x", "<demo>", "exec"))
    no_binding = error_type(
        lambda: compile("def f():\n    nonlocal x\n", "<demo>", "exec")
    )
    assert module_level is SyntaxError and no_binding is SyntaxError
    print(
        "nonlocal at module level, or with no enclosing binding:",
        module_level.__name__,
    )


def show_mangling() -> None:
    admin = AdminSession()
    assert vars(admin) == {
        "_Session__token": "parent-secret",
        "_AdminSession__token": "admin-secret",
    }
    assert (admin.parent_token(), admin.admin_token()) == (
        "parent-secret",
        "admin-secret",
    )
    token = admin._Session__token  # type: ignore[attr-defined]
    assert token == "parent-secret"
    assert not hasattr(admin, "__token")  # a string is never mangled
    assert "_Internal__flag" in vars(_Internal)
    print("mangling: instance attributes", sorted(vars(admin)))
    print(
        "mangling: reachable from outside as admin._Session__token:",
        token == "parent-secret",
    )
    print(
        "mangling: class _Internal stores __flag as",
        next(k for k in vars(_Internal) if k.endswith("flag")),
    )


def show_class_scope() -> None:
    in_comprehension = error_type(class_body_comprehension)
    assert in_comprehension is NameError
    assert class_body_first_iterable() == [0, 1, 2]
    in_method = error_type(lambda: Pricing().broken_total(2))
    assert in_method is NameError and Pricing().total(2) == 6
    print(
        "class body: name used inside a comprehension ->",
        in_comprehension.__name__,
    )
    print(
        "class body: name used as the first iterable ->",
        class_body_first_iterable(),
    )
    print(
        "class body: name used bare inside a method ->",
        in_method.__name__,
        "| via self ->",
        Pricing().total(2),
    )


def show_late_binding() -> None:
    assert late_bound() == [2, 2, 2]
    assert early_bound() == [0, 1, 2]
    print("closures in a loop:", late_bound(), "| with i=i:", early_bound())


def main() -> None:
    show_legb()
    show_global_and_nonlocal()
    show_mangling()
    show_class_scope()
    show_late_binding()


if __name__ == "__main__":
    main()
