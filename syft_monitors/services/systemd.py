"""systemd user units: `syft-bg install` / `uninstall`.

One unit per service, `syft-bg-{service}.service` in `$XDG_CONFIG_HOME/systemd/user/` (default
`~/.config/systemd/user/`). The unit is `Type=forking` around `syft-bg start` with the daemon's
own PID file, so `syft-bg status`, `stop` and `logs` keep working for a service systemd started,
and `systemctl --user reload` sends SIGHUP (config reload). Where `systemctl` is missing or
there is no user manager (containers, some SSH sessions), the unit file is still written and the
result says so; nothing is started then.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from syft_monitors.daemon.manager import DaemonManager

_UNIT = """\
[Unit]
Description=SyftBox monitor - {service} ({description})
After=network-online.target
Wants=network-online.target

[Service]
Type=forking
PIDFile={pid_file}
ExecStart={command} start {service}
ExecStop={command} stop {service}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=10
Environment=PYTHONUNBUFFERED=1

[Install]
WantedBy=default.target
"""


@dataclasses.dataclass(frozen=True, slots=True)
class UnitResult:
    service: str
    unit_path: Path
    #: False where systemctl is missing or the user manager is unreachable.
    systemd: bool
    #: One line for the user: what happened, or what to do instead.
    message: str


def unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "systemd" / "user"


def unit_name(service: str) -> str:
    return f"syft-bg-{service}.service"


def render_unit(daemon: DaemonManager) -> str:
    command = " ".join(
        shlex.quote(part) for part in (sys.executable, "-m", "syft_monitors.cli", "--config")
    )
    command += " " + shlex.quote(str(daemon.config_path))
    return _UNIT.format(
        service=daemon.service,
        description=daemon.spec.description,
        pid_file=daemon.pid_file,
        command=command,
    )


def install(daemon: DaemonManager) -> UnitResult:
    """Write the unit, then `daemon-reload` and `enable` it when systemd is there."""
    path = unit_dir() / unit_name(daemon.service)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_unit(daemon), encoding="utf-8")
    name = unit_name(daemon.service)
    failure = _systemctl("daemon-reload") or _systemctl("enable", name)
    if failure is not None:
        return UnitResult(
            daemon.service,
            path,
            False,
            f"wrote {path}, but {failure}; start the service with `syft-bg start "
            f"{daemon.service}` instead",
        )
    return UnitResult(
        daemon.service,
        path,
        True,
        f"installed and enabled {name}; start it now with `systemctl --user start {name}`",
    )


def uninstall(daemon: DaemonManager) -> UnitResult:
    """`disable --now` (stops a systemd-run service), delete the unit, `daemon-reload`."""
    path = unit_dir() / unit_name(daemon.service)
    name = unit_name(daemon.service)
    failure = _systemctl("disable", "--now", name) if path.exists() else None
    existed = path.exists()
    path.unlink(missing_ok=True)
    failure = failure or _systemctl("daemon-reload")
    what = f"removed {path}" if existed else f"{name} was not installed"
    if failure is not None:
        return UnitResult(daemon.service, path, False, f"{what} ({failure})")
    return UnitResult(daemon.service, path, True, what)


def _systemctl(*args: str) -> str | None:
    """Run `systemctl --user ARGS`; None on success, else why not (one line)."""
    executable = shutil.which("systemctl")
    if executable is None:
        return "systemd is not available here (no systemctl)"
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [executable, "--user", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"systemctl --user {' '.join(args)} failed ({type(error).__name__})"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        return f"systemctl --user {' '.join(args)} failed: {reason}"
    return None
