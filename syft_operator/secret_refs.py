"""Checking that the Secrets a SyftMonitor names exist and hold usable values.

A monitor pod whose token Secret is missing would sit in CreateContainerConfigError, and one with
a malformed token would crash-loop; checking first lets the operator say which Secret and key is
wrong in the SyftMonitor's status. Values are decoded only to be checked here and never leave this
module: messages name the Secret, the key and the purpose, nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from syft_monitors.errors import CredentialsError
from syft_monitors.google.credentials import parse_token_info
from syft_monitors.protocol.emails import safe_repr
from syft_operator.crd import SecretKeyRef, SyftMonitorSpec
from syft_operator.errors import SecretsError
from syft_operator.kube import SECRET, KubeApi

PURPOSES = {"drive": "Drive token", "gmail": "Gmail token", "smtp": "SMTP password"}


def resolve_secrets(api: KubeApi, namespace: str, spec: SyftMonitorSpec) -> str:
    """Check every referenced key, raising `SecretsError` for the first unusable one, and return
    a hash of their values for the pod template (a rotated token then rolls the pod).

    The hash is salted with each Secret's uid, which only those who may read the Secret see: a
    low-entropy SMTP password cannot be guessed offline from a Deployment anyone with `view`
    reads. It covers only the keys used, so editing another key or a label rolls nothing."""
    cache: dict[str, dict[str, Any] | None] = {}
    digest = hashlib.sha256()
    for purpose, ref in sorted(spec.secret_refs().items()):
        if ref.name not in cache:
            cache[ref.name] = api.get(SECRET, namespace, ref.name)
        value = check_secret(cache[ref.name], ref, purpose)
        uid = str(((cache[ref.name] or {}).get("metadata") or {}).get("uid"))
        for part in (purpose, uid, ref.name, ref.key):
            digest.update(part.encode() + b"\0")
        digest.update(hashlib.sha256(value).digest())
    return digest.hexdigest()[:16]


def check_secret(secret: dict[str, Any] | None, ref: SecretKeyRef, purpose: str) -> bytes:
    """The key's value when it is usable (never logged or stored), else `SecretsError`."""
    what = f"{PURPOSES.get(purpose, purpose)}: key {safe_repr(ref.key)} of Secret"
    where = f"{what} {safe_repr(ref.name)}"
    if secret is None:
        raise SecretsError(
            f"Secret {safe_repr(ref.name)} ({PURPOSES.get(purpose, purpose)}) not found",
            reason="SecretNotFound",
        )
    data = secret.get("data") or {}
    string_data = secret.get("stringData") or {}
    if ref.key in data:
        try:
            value = base64.b64decode(str(data[ref.key]), validate=True)
        except (binascii.Error, ValueError) as error:
            raise SecretsError(f"{where} is not valid base64", reason="SecretMalformed") from error
    elif ref.key in string_data:
        value = str(string_data[ref.key]).encode()
    else:
        raise SecretsError(f"{where} does not exist", reason="SecretKeyMissing")
    if not value.strip():
        raise SecretsError(f"{where} is empty", reason="SecretMalformed")
    if purpose in ("drive", "gmail"):
        _check_token(value, where)
    return value


def _check_token(value: bytes, where: str) -> None:
    try:
        parse_token_info(value, what=where)
    except CredentialsError as error:
        raise SecretsError(str(error), reason="SecretMalformed") from error
