"""``python -m local.moto_server``: moto's server (the same arguments as ``python -m
moto.server``) with its DynamoDB fixed as ``local.moto_dynamodb`` says, for stacks that
attach to a moto server of a process of its own."""

from __future__ import annotations

from moto.server import main

from local.moto_dynamodb import install

if __name__ == "__main__":
    install()
    main()
