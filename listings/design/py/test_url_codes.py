"""Tests for url_codes.py: the Python codes are the Rust service's."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from url_codes import DEMO_KEY, SPACE, Permutation, base62

OUTPUT = Path(__file__).parent.parent / "output" / "url_shortener.rs.txt"


def test_base62_is_seven_characters_in_order() -> None:
    assert base62(0) == "0000000"
    assert base62(61) == "000000z"
    assert base62(62) == "0000010"
    assert base62(SPACE - 1) == "zzzzzzz"


@pytest.mark.parametrize("bad", [-1, SPACE])
def test_base62_refuses_numbers_outside_the_space(bad: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        base62(bad)


def test_a_bijection_on_a_small_domain() -> None:
    p = Permutation(b"k", 1000)
    outputs = [p.forward(x) for x in range(1000)]
    assert sorted(outputs) == list(range(1000))
    assert [p.backward(y) for y in outputs] == list(range(1000))
    with pytest.raises(ValueError, match="outside"):
        p.forward(1000)


@given(st.integers(min_value=0, max_value=SPACE - 1))
def test_backward_undoes_forward(x: int) -> None:
    p = Permutation(DEMO_KEY, SPACE)
    assert p.backward(p.forward(x)) == x


def test_the_codes_are_the_rust_services() -> None:
    rust = OUTPUT.read_text().splitlines()
    p = Permutation(DEMO_KEY, SPACE)
    for i in range(1, 6):
        permuted = p.forward(i)
        line = f"  {i} -> {permuted:>13} -> {base62(permuted)}"
        assert line in rust, f"{line!r} not in the Rust output"
