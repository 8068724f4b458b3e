"""The docker CLI for tests/container: hardened runs, containers removed at the end."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

#: How users are told to run the image (README, the operator's pod specs): read-only, unprivileged.
HARDENED = (
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
)


@dataclass
class Docker:
    """The docker CLI, and every container started through `run_detached`, removed at the end."""

    client: str
    image: str
    started: list[str] = field(default_factory=list)

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.client, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def run(
        self, *command: str, options: Sequence[str] = (), timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`docker run --rm` of the image, hardened, without a network unless `options` say so."""
        return self(
            "run", "--rm", *HARDENED, "--network", "none", *options, self.image, *command,
            timeout=timeout, check=check,
        )  # fmt: skip

    def run_detached(self, *command: str, options: Sequence[str] = ()) -> str:
        name = f"syft-test-{uuid.uuid4().hex[:10]}"
        self.started.append(name)
        self("run", "--detach", "--name", name, *HARDENED, *options, self.image, *command)
        return name

    def logs(self, name: str) -> str:
        result = self("logs", name, check=False)
        return result.stdout + result.stderr

    def remove_all(self) -> None:
        for name in self.started:
            self("rm", "--force", name, check=False)
