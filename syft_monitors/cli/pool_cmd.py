"""`syft-bg pool`: one process serving many data owners (see syft_monitors/pool)."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import click

from syft_monitors.errors import ConfigError


@click.command(name="pool")
@click.option(
    "--assignment",
    type=click.Path(path_type=Path),
    help="Kubernetes mode: the shard's assignment.json (the operator mounts it).",
)
@click.option("--namespace", help="Kubernetes mode: the namespace [default: the pod's].")
@click.option(
    "--owners",
    type=click.Path(path_type=Path, file_okay=False),
    help="Local mode: a folder with one subfolder per data owner (config.yaml, token files).",
)
@click.option("--workers", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=9101,
    show_default=True,
    help="Port of /metrics and /healthz (0: a free one).",
)
@click.option("--metrics-host", default="0.0.0.0", show_default=True)  # noqa: S104
@click.option(
    "--spread",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds over which the owners' first polls are spread.",
)
@click.option(
    "--refresh",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds between two reads of an owner's config and tokens when their source tells"
    " no versions (--owners, or an assignment without them); also after auth errors.",
)
@click.option(
    "--safety-refresh",
    type=click.FloatRange(min=1),
    default=3600.0,
    show_default=True,
    help="Seconds between two reads of every part of an owner whose assignment entry has"
    " versions (it re-reads a part as soon as its version changes).",
)
@click.option("--api-root", help="Google API root (a sandbox URL) [env SYFT_GOOGLE_API_ROOT].")
@click.option("--kubeconfig", type=click.Path(path_type=Path), help="Outside a cluster.")
def pool_command(
    assignment: Path | None,
    namespace: str | None,
    owners: Path | None,
    workers: int,
    metrics_port: int,
    metrics_host: str,
    spread: float,
    refresh: float,
    safety_refresh: float,
    api_root: str | None,
    kubeconfig: Path | None,
) -> None:
    """Serve many data owners in this one process, in the foreground.

    Each owner keeps its own credentials, cursor, state, rate limits, metrics series
    (monitor="<name>") and backoff; their polls share a few worker threads and one Google client.
    The owners come from --assignment (Kubernetes: each SyftMonitor's ConfigMap and Secrets are
    read through the API) or --owners (a local folder). Owners added to or removed from either
    are picked up within seconds without disturbing the others. SIGTERM or Ctrl-C stop after the
    polls under way.
    """
    from syft_monitors.daemon.logsetup import configure_foreground_logging  # noqa: PLC0415
    from syft_monitors.pool.owner import OwnerSource  # noqa: PLC0415
    from syft_monitors.pool.process import Pool  # noqa: PLC0415

    if (assignment is None) == (owners is None):
        raise ConfigError("syft-bg pool needs exactly one of --assignment or --owners")
    configure_foreground_logging()
    source: OwnerSource
    if assignment is not None:
        from syft_monitors.pool.kube_source import AssignmentSource  # noqa: PLC0415

        source = AssignmentSource(assignment, namespace, kubeconfig=kubeconfig)
    else:
        from syft_monitors.pool.local_source import FolderSource  # noqa: PLC0415

        assert owners is not None
        source = FolderSource(owners)
    pool = Pool(
        source,
        workers=workers,
        spread=spread,
        refresh_every=refresh,
        safety_every=safety_refresh,
        api_root=api_root,
    )

    def on_stop(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        pool.stop()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    try:
        pool.serve_metrics(metrics_port, metrics_host)
    except OSError as error:  # a taken port must not stop notifications
        click.echo(
            f"warning: cannot serve metrics on port {metrics_port}: {error.strerror}", err=True
        )
    pool.run()
