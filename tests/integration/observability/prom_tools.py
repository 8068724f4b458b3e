"""promtool and prometheus from Debian's `prometheus` package (fetched by the project's script), and
a Prometheus server on loopback for tests."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.support import free_port, run_fetch_script

ROOT = Path(__file__).resolve().parents[3]
FETCH_SCRIPT = ROOT / "scripts" / "fetch-prometheus.sh"


class PrometheusUnavailableError(Exception):
    """The Debian archive could not be reached (the caller may skip)."""


@dataclasses.dataclass(frozen=True)
class PrometheusTools:
    bin_dir: Path

    @property
    def promtool(self) -> Path:
        return self.bin_dir / "promtool"

    @property
    def prometheus(self) -> Path:
        return self.bin_dir / "prometheus"


def fetch_prometheus(timeout: float = 300) -> PrometheusTools:
    """Run scripts/fetch-prometheus.sh (instant when cached)."""
    return PrometheusTools(
        run_fetch_script(FETCH_SCRIPT, PrometheusUnavailableError, timeout=timeout)
    )


class PrometheusServer:
    """A real Prometheus on 127.0.0.1 with a private TSDB; queried through its HTTP API.

    `reload(config)` rewrites the config file and POSTs /-/reload (--web.enable-lifecycle).
    """

    def __init__(self, tools: PrometheusTools, workdir: Path, config: dict[str, Any]) -> None:
        self.tools = tools
        self.workdir = workdir
        self.config_path = workdir / "prometheus.yml"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._write(config)
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "prometheus.log"

    def _write(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(self.tools.prometheus),
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready after {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def api(self, path: str, params: dict[str, str] | list[tuple[str, str]] | None = None) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise AssertionError(f"{path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or a scalar as one sample) of `expr` now."""
        try:
            data = self.api("/api/v1/query", {"query": expr})
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{expr!r}: {error.read().decode(errors='replace')}") from error
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]  # type: ignore[no-any-return]

    def label_values(self, label: str, match: str) -> list[str]:
        return self.api(f"/api/v1/label/{label}/values", [("match[]", match)])  # type: ignore[no-any-return]

    def reload(self, config: dict[str, Any]) -> None:
        self._write(config)
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
