"""Checking referenced Secrets: each failure has its own reason; values never reach messages."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from syft_operator.crd import SecretKeyRef
from syft_operator.errors import SecretsError
from syft_operator.secret_refs import check_secret

REF = SecretKeyRef(name="alice-google-token", key="token.json")
TOKEN = {
    "token": "ya29.access-VALUE",
    "refresh_token": "1//refresh-VALUE",
    "client_id": "client.apps.googleusercontent.com",
    "client_secret": "SECRET-VALUE",
}


def secret(data: dict[str, bytes] | None = None, **extra: Any) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v).decode() for k, v in (data or {}).items()}
    return {"kind": "Secret", "metadata": {"name": REF.name}, "data": encoded, **extra}


def reason_of(body: dict[str, Any] | None, purpose: str = "drive") -> tuple[str, str]:
    with pytest.raises(SecretsError) as caught:
        check_secret(body, REF, purpose)
    return caught.value.reason, str(caught.value)


def test_a_good_token_passes() -> None:
    check_secret(secret({"token.json": json.dumps(TOKEN).encode()}), REF, "drive")
    check_secret({"stringData": {"token.json": json.dumps(TOKEN)}}, REF, "gmail")


def test_smtp_password_needs_only_a_value() -> None:
    check_secret(secret({"token.json": b"hunter2"}), REF, "smtp")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "SecretNotFound"),
        (secret({"other": b"x"}), "SecretKeyMissing"),
        (secret({"token.json": b"  \n"}), "SecretMalformed"),
        (secret({"token.json": b"REPLACE_ME"}), "SecretMalformed"),
        (secret({"token.json": b"[1, 2]"}), "SecretMalformed"),
        (
            secret({"token.json": json.dumps({"token": "ya29.only-VALUE"}).encode()}),
            "SecretMalformed",
        ),
        ({"data": {"token.json": "%%%not-base64%%%"}}, "SecretMalformed"),
        # Once a RecursionError out of the reconcile handler.
        (secret({"token.json": b"[" * 30_000 + b"]" * 30_000}), "SecretMalformed"),
        (secret({"token.json": b"{}"}), "SecretMalformed"),
    ],
)
def test_failures_have_a_reason(body: dict[str, Any] | None, reason: str) -> None:
    got, message = reason_of(body)
    assert got == reason
    assert "alice-google-token" in message
    assert "\n" not in message


def test_messages_never_contain_values() -> None:
    partial = dict(TOKEN)
    del partial["client_secret"]
    for body in (
        secret({"token.json": json.dumps(partial).encode()}),
        secret({"token.json": b'{"refresh_token": "1//refresh-VALUE", broken'}),
    ):
        _reason, message = reason_of(body)
        assert "VALUE" not in message
