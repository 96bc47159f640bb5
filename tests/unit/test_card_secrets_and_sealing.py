"""Card secrets: CSPRNG, unambiguous alphabet, at least 80 bits; sealed with AES-256-GCM."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from cardmaker import Sealer, SecretTampered
from cardmaker.cards.card_secrets import ALPHABET, BITS_PER_SYMBOL, generate_secrets


def test_secrets_use_the_unambiguous_alphabet_and_default_to_80_bits():
    secrets = generate_secrets(2000)
    assert all(len(secret) == 16 for secret in secrets)
    assert 16 * BITS_PER_SYMBOL >= 80
    symbols = set(b"".join(secrets))
    assert symbols <= set(ALPHABET)
    assert not symbols & set(b"01IOl")
    assert len(set(secrets)) == 2000


def test_secret_symbols_are_uniform():
    counts = Counter(b"".join(generate_secrets(20_000)))
    expected = 20_000 * 16 / 32
    assert len(counts) == 32
    assert all(abs(count - expected) < 0.1 * expected for count in counts.values())


def test_length_is_configurable_but_never_below_80_bits():
    assert {len(secret) for secret in generate_secrets(10, 24)} == {24}
    with pytest.raises(ValueError, match="80 bits"):
        generate_secrets(1, 15)


def test_sealed_secret_opens_only_for_its_card():
    sealer = Sealer(os.urandom(32))
    numbers = [b"3101000000000000001", b"3101000000000000002"]
    secrets = [b"ABCDEFGHJKLMNPQR", b"23456789ABCDEFGH"]
    sealed = sealer.seal_many(numbers, secrets)
    assert [
        sealer.open(number.decode(), blob) for number, blob in zip(numbers, sealed, strict=True)
    ] == [
        "ABCDEFGHJKLMNPQR",
        "23456789ABCDEFGH",
    ]
    assert all(secret not in blob for secret, blob in zip(secrets, sealed, strict=True))
    with pytest.raises(SecretTampered):
        sealer.open(numbers[1].decode(), sealed[0])  # moved to another card
    tampered = sealed[0][:-1] + bytes([sealed[0][-1] ^ 1])
    with pytest.raises(SecretTampered):
        sealer.open(numbers[0].decode(), tampered)
    with pytest.raises(SecretTampered):
        Sealer(os.urandom(32)).open(numbers[0].decode(), sealed[0])  # another key


def test_nonces_never_repeat_within_a_key():
    sealed = Sealer(os.urandom(32)).seal_many([b"1"] * 5000, [b"ABCDEFGHJKLMNPQR"] * 5000)
    assert len({blob[:12] for blob in sealed}) == 5000
    assert len(set(sealed)) == 5000  # same secret, same card: still different ciphertexts


def test_data_key_must_be_256_bits():
    with pytest.raises(ValueError, match="256"):
        Sealer(os.urandom(16))
