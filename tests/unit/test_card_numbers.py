"""Card numbers: a keyed permutation, so unique by construction, in the configured format."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardmaker.cards.numbering import CardNumberer, CardNumberScheme, luhn_digit

KEY = b"unit-test-card-number-key-0123456789"


@settings(max_examples=40, deadline=None)
@given(
    free_digits=st.integers(min_value=2, max_value=4),
    prefix=st.sampled_from(["", "3", "31", "0"]),
    check_digit=st.sampled_from(["none", "luhn"]),
    key=st.binary(min_size=1, max_size=40),
)
def test_permutation_is_a_bijection_on_small_domains(free_digits, prefix, check_digit, key):
    length = len(prefix) + free_digits + (1 if check_digit == "luhn" else 0)
    numberer = CardNumberer(CardNumberScheme(length, prefix, check_digit), key)
    domain = list(range(10**free_digits))
    image = numberer.permute(domain)
    assert sorted(image) == domain  # onto the whole domain, nothing twice
    assert numberer.invert(image) == domain


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(
        st.integers(min_value=0, max_value=10**15 - 1), min_size=1, max_size=50, unique=True
    )
)
def test_permutation_inverts_on_the_full_domain(values):
    numberer = CardNumberer(CardNumberScheme(), KEY)
    assert numberer.invert(numberer.permute(values)) == values


def test_a_million_numbers_are_distinct_and_well_formed():
    scheme = CardNumberScheme()  # 19 digits, prefix 3101, no check digit
    numberer = CardNumberer(scheme, KEY)
    numbers = []
    for first in range(0, 1_000_000, 100_000):
        numbers.extend(numberer.numbers(first, 100_000))
    assert len(numbers) == 1_000_000
    assert len(set(numbers)) == 1_000_000
    assert all(len(number) == 19 and number.startswith("3101") for number in numbers)
    assert all(number.isdigit() for number in numbers[::997])


def test_luhn_scheme_numbers_carry_a_valid_check_digit():
    scheme = CardNumberScheme(length=19, prefix="3101", check_digit="luhn")
    numbers = CardNumberer(scheme, KEY).numbers(0, 5000)
    assert all(scheme.is_well_formed(number) for number in numbers)
    assert len(set(numbers)) == 5000
    broken = numbers[0][:-1] + str((int(numbers[0][-1]) + 1) % 10)
    assert not scheme.is_well_formed(broken)


def test_luhn_digit_known_values():
    assert luhn_digit("7992739871") == "3"
    assert luhn_digit("453201511283036") == "6"


def test_numbers_are_not_sequential_and_depend_on_the_key():
    numbers = [int(number) for number in CardNumberer(CardNumberScheme(), KEY).numbers(0, 1000)]
    steps = {b - a for a, b in pairwise(numbers)}
    assert len(steps) > 990  # no common stride between consecutive cards
    other = CardNumberer(CardNumberScheme(), KEY + b"!").numbers(0, 1000)
    assert len(set(map(str, numbers)) & set(other)) < 5


def test_same_sequence_gives_same_number():
    # a retried chunk regenerates exactly its own numbers
    numberer = CardNumberer(CardNumberScheme(), KEY)
    assert numberer.numbers(12345, 100) == numberer.numbers(12345, 100)
    assert numberer.numbers(12345, 100)[50:] == numberer.numbers(12395, 50)


def test_schemes_and_ranges_are_validated():
    with pytest.raises(ValueError, match="digits"):
        CardNumberScheme(prefix="31a")
    with pytest.raises(ValueError, match="at least two digits"):
        CardNumberScheme(length=5, prefix="3101")
    numberer = CardNumberer(CardNumberScheme(length=6, prefix="31"), KEY)
    with pytest.raises(ValueError, match="within"):
        numberer.numbers(9_990, 20)
    assert CardNumberScheme().capacity == 10**15
