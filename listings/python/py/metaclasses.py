"""1.2 Metaclasses: an ORM-style model declaration, three ways.

1. A metaclass (``ModelMeta``): ``__prepare__`` hands the class body a
   namespace that rejects a column defined twice, ``__new__`` collects the
   ``Field`` descriptors into ``_fields``, checks for exactly one primary key
   and registers the model under its table name.
2. ``__init_subclass__`` (PEP 487, Python 3.6): the same collection and
   registration from a plain base class, with the table name passed as a
   class keyword.
3. A class decorator: explicit and local, but not inherited.

Then the metaclass conflict: a class whose bases have unrelated metaclasses
(``ModelMeta`` and ``abc.ABCMeta``) cannot be created, while the
``__init_subclass__`` version mixes with ``abc.ABC`` freely.

The ``Field`` descriptor reports a column that was never set (an instance
built without ``__init__``, as an ORM does when it loads a row) with
``AttributeError``, so ``hasattr`` answers False and ``getattr`` with a
default returns the default.

Semantics chosen: columns are the ``Field`` attributes of the class body, in
definition order (class namespaces keep insertion order, PEP 520); columns
are not inherited from parent models; the DDL is PostgreSQL-flavoured.
Every printed claim is asserted.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar


# ANCHOR: field
class Field:
    """A column: a descriptor that learns its own name from the class body."""

    def __init__(
        self, sql_type: str, *, primary_key: bool = False, nullable: bool = True
    ) -> None:
        self.sql_type = sql_type
        self.primary_key = primary_key
        self.nullable = nullable and not primary_key
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        # Called by type.__new__ for every attribute that defines it (PEP 487).
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        try:
            return vars(instance)[self.name]
        except KeyError:
            # AttributeError, not KeyError: hasattr() and getattr(obj, name,
            # default) rely on it, and so does __getattr__ as a fallback.
            kind = type(instance).__name__
            msg = f"{kind!r} object has no attribute {self.name!r}"
            raise AttributeError(msg) from None

    def __set__(self, instance: object, value: Any) -> None:
        vars(instance)[self.name] = value

    def ddl(self) -> str:
        if self.primary_key:
            return f"{self.name} {self.sql_type} PRIMARY KEY"
        null = "" if self.nullable else " NOT NULL"
        return f"{self.name} {self.sql_type}{null}"
        # ANCHOR_END: field


def create_table_sql(model: type) -> str:
    # getattr, because each of the three ways below adds these attributes at
    # run time, where a type checker does not see them.
    fields: dict[str, Field] = getattr(model, "_fields")  # noqa: B009
    table: str = getattr(model, "__tablename__")  # noqa: B009
    columns = ", ".join(field.ddl() for field in fields.values())
    return f"CREATE TABLE {table} ({columns})"


def collect_fields(name: str, namespace: dict[str, Any]) -> dict[str, Field]:
    fields = {k: v for k, v in namespace.items() if isinstance(v, Field)}
    keys = [f for f in fields.values() if f.primary_key]
    if len(keys) != 1:
        raise TypeError(
            f"{name}: expected exactly one primary key, found {len(keys)}"
        )
    return fields


# ANCHOR: metaclass
class ColumnNamespace(dict[str, Any]):
    """The class-body namespace: a plain dict would let a second
    ``email = Field(...)`` silently replace the first."""

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Field) and isinstance(self.get(key), Field):
            raise TypeError(f"column {key!r} is defined twice")
        super().__setitem__(key, value)


class ModelMeta(type):
    registry: ClassVar[dict[str, type]] = {}
    _fields: dict[str, Field]  # set on each model class by __new__
    __tablename__: str

    @classmethod
    def __prepare__(
        mcs, name: str, bases: tuple[type, ...], /, **kw: Any
    ) -> ColumnNamespace:
        return ColumnNamespace()

    def __new__(
        mcs,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        **kw: Any,
    ) -> ModelMeta:
        cls = super().__new__(mcs, name, bases, dict(namespace), **kw)
        if bases:  # the abstract root `Model` has no table
            cls._fields = collect_fields(name, namespace)
            table = namespace.get("__tablename__", name.lower())
            cls.__tablename__ = table
            ModelMeta.registry[table] = cls
        return cls


class Model(metaclass=ModelMeta):
    def __init__(self, **values: Any) -> None:
        for name in type(self)._fields:
            setattr(self, name, values.get(name))


class User(Model):
    __tablename__ = "users"
    id = Field("BIGINT", primary_key=True)
    email = Field("TEXT", nullable=False)
    age = Field("INTEGER")
    # ANCHOR_END: metaclass


class Invoice(Model):  # no __tablename__: the class name, lowercased
    id = Field("BIGINT", primary_key=True)
    total_cents = Field("BIGINT", nullable=False)


# ANCHOR: init_subclass
class Record:
    """The same job without a metaclass (PEP 487, Python 3.6)."""

    registry: ClassVar[dict[str, type[Record]]] = {}
    _fields: ClassVar[dict[str, Field]]
    __tablename__: ClassVar[str]

    def __init_subclass__(cls, /, table: str = "", **kw: Any) -> None:
        super().__init_subclass__(**kw)  # cooperate with other bases' hooks
        cls._fields = collect_fields(cls.__name__, dict(vars(cls)))
        cls.__tablename__ = table or cls.__name__.lower()
        Record.registry[cls.__tablename__] = cls


class Customer(Record, table="customers"):
    id = Field("BIGINT", primary_key=True)
    name = Field("TEXT", nullable=False)
    # ANCHOR_END: init_subclass


# ANCHOR: decorator
T = TypeVar("T", bound=type)
TABLES: dict[str, type] = {}


def table(name: str) -> Callable[[T], T]:
    """A class decorator: runs once, on the decorated class and only there."""

    def register(cls: T) -> T:
        fields = collect_fields(cls.__name__, dict(vars(cls)))
        # setattr, because `cls._fields = ...` fails type checking: no class
        # is known to have those attributes.
        setattr(cls, "_fields", fields)  # noqa: B010
        setattr(cls, "__tablename__", name)  # noqa: B010
        TABLES[name] = cls
        return cls

    return register


@table("products")
class Product:
    sku = Field("TEXT", primary_key=True)
    price_cents = Field("BIGINT", nullable=False)


class DiscountedProduct(Product):  # not decorated: not registered
    discount = Field("INTEGER")
    # ANCHOR_END: decorator


def error_of(define: Callable[[], object]) -> TypeError:
    try:
        define()
    except TypeError as e:
        return e
    raise AssertionError("expected a TypeError")


def duplicate_column() -> object:
    class Broken(Model):
        id = Field("BIGINT", primary_key=True)
        email = Field("TEXT")
        email = Field("TEXT")  # the mistake under test

    return Broken


def two_primary_keys() -> object:
    class Broken(Record):
        a = Field("BIGINT", primary_key=True)
        b = Field("BIGINT", primary_key=True)

    return Broken


# ANCHOR: conflict
def metaclass_meets_abc() -> object:
    # ModelMeta and ABCMeta are unrelated: this class cannot be created.
    class AuditedUser(Model, abc.ABC):  # type: ignore[metaclass]
        id = Field("BIGINT", primary_key=True)

    return AuditedUser


class ModelABCMeta(ModelMeta, abc.ABCMeta):
    """The fix: one metaclass that is a subclass of both."""


def audited_models() -> tuple[type, type]:
    class AuditedUser(Model, abc.ABC, metaclass=ModelABCMeta):
        __tablename__ = "audited_users"
        id = Field("BIGINT", primary_key=True)

    class AuditedCustomer(Record, abc.ABC, table="audited_customers"):
        id = Field("BIGINT", primary_key=True)  # no metaclass, no conflict

    return AuditedUser, AuditedCustomer
    # ANCHOR_END: conflict


def show_metaclass() -> None:
    assert type(User) is ModelMeta and type(Model) is ModelMeta
    assert sorted(ModelMeta.registry) == ["invoice", "users"]
    assert list(User._fields) == ["id", "email", "age"]
    sql = create_table_sql(User)
    assert sql == (
        "CREATE TABLE users"
        " (id BIGINT PRIMARY KEY, email TEXT NOT NULL, age INTEGER)"
    )
    user = User(id=1, email="ada@example.com")
    assert (user.id, user.email, user.age) == (1, "ada@example.com", None)
    # Metaclass attributes are found from the class, never from instances.
    assert User.registry is ModelMeta.registry and not hasattr(user, "registry")
    print("metaclass: type(User) is ModelMeta:", type(User) is ModelMeta)
    print("metaclass: registry:", sorted(ModelMeta.registry))
    print("metaclass:", sql)
    print("metaclass:", create_table_sql(Invoice))

    duplicate = error_of(duplicate_column)
    assert str(duplicate) == "column 'email' is defined twice"
    print("metaclass: duplicate column ->", duplicate)


# ANCHOR: unset
def unset_column() -> tuple[bool, object, str]:
    """A row loaded without __init__ (SQLAlchemy does not call it when it
    loads an object) has columns that were never set."""
    blank = User.__new__(User)
    try:
        message = f"no error: {blank.email!r}"
    except AttributeError as e:
        message = str(e)
    return hasattr(blank, "email"), getattr(blank, "email", "n/a"), message
    # ANCHOR_END: unset


def show_unset_column() -> None:
    has, default, message = unset_column()
    assert (has, default) == (False, "n/a")
    assert message == "'User' object has no attribute 'email'"
    user = User(id=2, email="grace@example.com")
    assert hasattr(user, "email") and getattr(user, "age", "n/a") is None
    print("descriptor: unset column, hasattr ->", has)
    print("descriptor: unset column, getattr with default ->", repr(default))
    print("descriptor: unset column, attribute access ->", message)


def show_init_subclass() -> None:
    assert type(Customer) is type  # no custom metaclass involved
    assert "customers" in Record.registry
    sql = create_table_sql(Customer)
    assert sql == (
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, name TEXT NOT NULL)"
    )
    print("__init_subclass__: type(Customer) is type:", type(Customer) is type)
    print("__init_subclass__:", sql)
    keys = error_of(two_primary_keys)
    assert str(keys) == "Broken: expected exactly one primary key, found 2"
    print("__init_subclass__: two primary keys ->", keys)


def show_decorator() -> None:
    sql = create_table_sql(Product)
    assert sql == (
        "CREATE TABLE products"
        " (sku TEXT PRIMARY KEY, price_cents BIGINT NOT NULL)"
    )
    assert list(TABLES) == ["products"]
    # The subclass inherits the parent's _fields, not a fresh schema
    # (getattr for the reason given in create_table_sql).
    assert "discount" not in getattr(DiscountedProduct, "_fields")  # noqa: B009
    print("decorator:", sql)
    print(
        "decorator: subclass registered:", DiscountedProduct in TABLES.values()
    )


def show_conflict() -> None:
    conflict = error_of(metaclass_meets_abc)
    assert str(conflict).startswith("metaclass conflict")
    print("conflict: Model + abc.ABC ->", str(conflict).split(":")[0])
    audited_user, audited_customer = audited_models()
    assert type(audited_user) is ModelABCMeta
    assert "audited_users" in ModelMeta.registry
    print(
        "conflict: fixed by ModelABCMeta(ModelMeta, ABCMeta):",
        type(audited_user).__name__,
    )
    assert type(audited_customer) is abc.ABCMeta
    assert "audited_customers" in Record.registry
    print(
        "conflict: Record + abc.ABC works, metaclass is",
        type(audited_customer).__name__,
    )


def main() -> None:
    show_metaclass()
    show_unset_column()
    show_init_subclass()
    show_decorator()
    show_conflict()


if __name__ == "__main__":
    main()
