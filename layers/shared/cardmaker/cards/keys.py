"""Data keys from KMS (envelope encryption): one per chunk, stored wrapped beside its cards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardmaker.cards.sealing import DATA_KEY_BYTES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_kms import KMSClient

    from cardmaker.orders.order import OrderKey


def chunk_key_context(order: OrderKey, chunk_id: str) -> dict[str, str]:
    """The KMS encryption context a chunk's data key is bound to: generating, delivering and
    exporting must all build the very same one."""
    return {"card_order": order.label, "chunk": chunk_id}


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes  # only ever in memory
    wrapped: bytes  # what is stored

    def __repr__(self) -> str:  # never print the key
        return f"DataKey(wrapped={len(self.wrapped)} bytes)"


class KmsDataKeys:
    """``GenerateDataKey`` / ``Decrypt`` under one KMS key. The encryption context binds a data
    key to its chunk: a wrapped key copied to another chunk does not unwrap."""

    def __init__(self, client: KMSClient, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    def new(self, context: Mapping[str, str]) -> DataKey:
        answer = self._client.generate_data_key(
            KeyId=self._key_id, NumberOfBytes=DATA_KEY_BYTES, EncryptionContext=dict(context)
        )
        return DataKey(plaintext=answer["Plaintext"], wrapped=answer["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> DataKey:
        answer = self._client.decrypt(
            CiphertextBlob=wrapped, KeyId=self._key_id, EncryptionContext=dict(context)
        )
        return DataKey(plaintext=answer["Plaintext"], wrapped=wrapped)
