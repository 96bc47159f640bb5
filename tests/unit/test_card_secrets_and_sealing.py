"""Card secrets: derived per chunk from its random data key, unambiguous alphabet, at least
80 bits, the same for a card whatever the attempt; sealed with AES-256-GCM."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from cardmaker import Sealer, SecretTampered
from cardmaker.cards.card_secrets import ALPHABET, BITS_PER_SYMBOL, ChunkSecrets


def generate_secrets(count: int, length: int = 16) -> list[bytes]:
    """``count`` secrets of a chunk with a fresh data key, from a random sequence number."""
    first = int.from_bytes(os.urandom(7), "big")
    return ChunkSecrets(os.urandom(32), length).secrets(first, count)


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
    assert {len(secret) for secret in generate_secrets(10, 64)} == {64}
    with pytest.raises(ValueError, match="80 bits"):
        generate_secrets(1, 15)


@pytest.mark.parametrize("length", [16, 17, 40, 64])
def test_a_card_has_one_secret_whatever_the_attempt_or_the_batch(length):
    # every attempt of a chunk shares its data key: a retry or a stale attempt that rewrites
    # the chunk's cards gives each the secret it already has
    data_key = os.urandom(32)
    first_attempt = ChunkSecrets(data_key, length).secrets(1_000, 500)
    retry = ChunkSecrets(data_key, length)
    assert retry.secrets(1_000, 500) == first_attempt
    assert retry.secrets(1_000, 123) + retry.secrets(1_123, 377) == first_attempt
    assert retry.secrets(1_250, 1) == first_attempt[250:251]
    assert len(set(first_attempt)) == 500


def test_secrets_depend_on_the_data_key_and_the_card():
    data_key = os.urandom(32)
    secrets = ChunkSecrets(data_key).secrets(0, 1000)
    other_chunk = ChunkSecrets(os.urandom(32)).secrets(0, 1000)
    assert not set(secrets) & set(other_chunk)
    # long secrets of neighbouring cards do not overlap (each card owns its counters)
    long = ChunkSecrets(data_key, 40).secrets(0, 100)
    assert len({secret[start : start + 8] for secret in long for start in (0, 16, 32)}) == 300


# The secrets the released derivation gives for one data key (computed with the code that
# derives them, and copied here): an attempt of a chunk started before a change would
# otherwise re-seal its cards with other secrets after it. Never edit them to make a test pass.
PINNED_DATA_KEY = bytes(range(32))
PINNED_SECRETS_16 = [b"48KGT6DG8C5P9Y8Y", b"DDV5HUTWX3AP3MA3"]
PINNED_SECRET_20 = b"U5PSYEJW5KCPUTLG8Y62"


def test_the_derivation_never_changes():
    assert ChunkSecrets(PINNED_DATA_KEY).secrets(0, 2) == PINNED_SECRETS_16
    assert ChunkSecrets(PINNED_DATA_KEY, 20).secrets(9_999_999_999_999_999_998, 1) == [
        PINNED_SECRET_20
    ]


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
