"""The tenant boundary: spec fields that decide what code runs or where tokens go.

Whoever may create a SyftMonitor in a namespace makes the operator mount Secrets of that namespace
(by name) into a pod. So the fields that choose the pod's code (`spec.image`) or where the mounted
credentials are sent (`spec.googleApiRoot`, which also moves the OAuth token refresh to
`<root>token`; an SMTP host that receives the password Secret) are refused unless the cluster
admin allowed the value in the operator's own configuration (`OperatorConfig.allowed_*`, set by
the Helm values). Default: nothing allowed, i.e. only the operator's monitor image, Google's own
endpoints, and SMTP relays without a password.

The check runs before any child is written, so a refused SyftMonitor creates or changes nothing.
"""

from __future__ import annotations

import re

from syft_monitors.protocol.emails import safe_repr
from syft_operator.config import OperatorConfig
from syft_operator.crd import SyftMonitorSpec
from syft_operator.errors import PolicyError

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def check_spec(spec: SyftMonitorSpec, config: OperatorConfig) -> None:
    """Raise `PolicyError` for the first field whose value the operator's config does not allow."""
    if spec.image is not None and not image_allowed(spec.image, config.allowed_images):
        raise PolicyError(
            f"spec.image {safe_repr(spec.image)} is not in the operator's image allow-list"
            " (Helm value tenancy.allowedImages); remove spec.image to run the default image",
            reason="ImageNotAllowed",
        )
    if spec.google_api_root is not None and not api_root_allowed(
        spec.google_api_root, config.allowed_api_roots
    ):
        raise PolicyError(
            f"spec.googleApiRoot {safe_repr(spec.google_api_root)} is not in the operator's"
            " API-root allow-list (Helm value tenancy.allowedApiRoots): tokens would be sent there",
            reason="ApiRootNotAllowed",
        )
    smtp = spec.sender.smtp
    if (
        smtp is not None
        and smtp.credentials_secret_ref is not None
        and smtp.host.lower().rstrip(".")
        not in {host.lower().rstrip(".") for host in config.allowed_smtp_hosts}
    ):
        raise PolicyError(
            f"spec.sender.smtp.host {safe_repr(smtp.host)} is not in the operator's SMTP host"
            " allow-list (Helm value tenancy.allowedSmtpHosts): the password Secret would be"
            " sent there",
            reason="SmtpHostNotAllowed",
        )


def repository_of(image: str) -> str:
    """`registry:5000/team/app:1@sha256:...` -> `registry:5000/team/app`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: len(name) - len(last[-1])] + last[-1].split(":", 1)[0]
    return name


def image_allowed(image: str, allowed: tuple[str, ...]) -> bool:
    """Allowed by a digest, by its repository, or by a repository prefix ending in `/`."""
    repository = repository_of(image)
    digest = image.split("@", 1)[1] if "@" in image else None
    for entry in allowed:
        if _DIGEST.match(entry):
            if digest == entry:
                return True
        elif entry.endswith("/"):
            # At a path boundary only: `team/` must not allow `team-evil/x`.
            if repository.startswith(entry) and len(repository) > len(entry):
                return True
        elif entry in (repository, image):
            return True
    return False


def api_root_allowed(root: str, allowed: tuple[str, ...]) -> bool:
    return root.rstrip("/") in {entry.rstrip("/") for entry in allowed}
