"""Configuration: read from the environment in one place, validated once per cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cardmaker.cards.numbering import CheckDigit
from cardmaker.top.signing import SignMethod


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    orders_table_name: str = Field(min_length=1)
    cards_table_name: str | None = None
    card_number_secret_id: str | None = None
    card_number_length: int = Field(default=19, ge=8, le=30)
    card_number_prefix: str = Field(default="3101", pattern=r"^[0-9]{0,12}$")
    card_check_digit: CheckDigit = "none"
    card_secret_length: int = Field(default=16, ge=16, le=64)
    card_key_id: str | None = None
    chunk_size: int = Field(default=5000, ge=1, le=100_000)
    # Retries of a stream record (the template's StreamMaxRetries): the generator marks the
    # order FAILED on the last attempt.
    stream_max_retries: int = Field(default=4, ge=0, le=10)
    deliveries_table_name: str | None = None
    # card.bind's top_app_key: our own app key unless the platform assigned another one.
    card_bind_app_key: str = ""
    # How isv_ka_list travels (the seed is ambiguous): "array" or "object".
    eticket_ka_list_shape: Literal["array", "object"] = "array"
    top_app_key: str = ""
    # The app secret comes from Secrets Manager (TOP_SECRET_ID, a JSON secret with
    # ``app_secret`` and ``session_key``) on AWS; TOP_APP_SECRET overrides it for local use.
    top_secret_id: str | None = None
    top_app_secret: SecretStr | None = None
    top_session_key: SecretStr | None = None
    top_gateway_url: str = "https://eco.taobao.com/router/rest"
    top_sign_method: SignMethod = "hmac-sha256"
    # Ask TOP for simplified JSON answers (no root wrapper, no list wrapping); both are read.
    top_simplify: bool = False
    # How long a TOP call may take to answer once sent; past it the outcome is unknown.
    top_read_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    secret_max_age_seconds: int = Field(default=300, ge=0)
    spi_max_age_seconds: int = Field(default=300, ge=1)
    spi_max_future_seconds: int = Field(default=180, ge=0)
    spi_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values = {
            name: environ[name.upper()]
            for name in cls.model_fields
            if environ.get(name.upper(), "") != ""
        }
        return cls.model_validate(values)


@cache
def get_settings() -> Settings:
    return Settings.from_env(os.environ)
