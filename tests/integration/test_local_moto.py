"""What the local stack changes in moto and botocore to make a stack cheap
(local/moto_kms.py, local/botocore_data.py), and that the services still answer alike."""

from __future__ import annotations

import base64

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws

import local.stack  # noqa: F401  (installs both, as for every stack of the process)
from local.template import create_resources, load_template, resources_of_type

KMS_KEY = "AWS::KMS::Key"


@pytest.fixture
def key_pairs_made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The RSA key pairs made (their sizes), by moto or anyone."""
    made: list[int] = []
    real = rsa.generate_private_key

    def counted(public_exponent: int, key_size: int, *args, **kwargs):
        made.append(key_size)
        return real(public_exponent, key_size, *args, **kwargs)

    monkeypatch.setattr(rsa, "generate_private_key", counted)
    return made


def test_the_stacks_symmetric_keys_make_no_rsa_key_pair(key_pairs_made):
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        stack = create_resources(session, secret_values={"CardNumberSecret": {"key": "k"}})
        kms = session.client("kms")
        key_ids = [stack.physical[name] for name in resources_of_type(load_template(), KMS_KEY)]
        assert key_ids
        for key_id in key_ids:
            sealed = kms.encrypt(KeyId=key_id, Plaintext=b"card secret")["CiphertextBlob"]
            assert kms.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"card secret"
            assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert key_pairs_made == []


def test_an_asymmetric_key_still_signs_with_its_own_pair(key_pairs_made):
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        assert key_pairs_made == []  # not yet: on first use
        signed = kms.sign(
            KeyId=key_id, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256", MessageType="RAW"
        )
        verified = kms.verify(
            KeyId=key_id,
            Message=b"m",
            Signature=signed["Signature"],
            SigningAlgorithm="RSASSA_PSS_SHA_256",
            MessageType="RAW",
        )
        assert verified["SignatureValid"] is True
        public = kms.get_public_key(KeyId=key_id)["PublicKey"]
        assert base64.b64encode(public)  # DER bytes of the same pair
    assert key_pairs_made == [2048]  # made once, then kept


def test_sessions_share_what_botocore_read_and_still_work():
    first, second = boto3.Session(region_name="us-east-1"), boto3.Session(region_name="us-east-1")
    loader = first._session.get_component("data_loader")
    assert second._session.get_component("data_loader") is loader
    with mock_aws():
        first.client("sqs").create_queue(QueueName="q")
        assert second.client("sqs").list_queues()["QueueUrls"][0].endswith("/q")
