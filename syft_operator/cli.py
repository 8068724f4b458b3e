"""`syft-operator`: run the SyftMonitor operator (the equivalent of `kopf run -m ...`).

    syft-operator --all-namespaces                # watch SyftMonitors everywhere
    syft-operator --namespace team-a -n team-b    # only these namespaces
    syft-operator -A --standalone --metrics-port 9090 --log-format json
    syft-operator -n team-a --allow-image registry.example.org/syft/   # the tenant boundary

It connects with the in-cluster service account inside a pod, else with the kubeconfig
($KUBECONFIG or ~/.kube/config). `--standalone` skips kopf's peering (run one replica with the
Recreate strategy, as the shipped Deployment does). Operator settings that are not flags come
from the environment (see `syft_operator.config`).
"""

from __future__ import annotations

import dataclasses

import click

from syft_operator import __version__
from syft_operator.config import OperatorConfig
from syft_operator.errors import OperatorError

DEFAULT_LIVENESS = "http://0.0.0.0:8080/healthz"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Arguments of `kopf.run`, decided from the command line before kopf starts."""

    clusterwide: bool
    namespaces: tuple[str, ...]
    standalone: bool
    liveness_endpoint: str | None
    config: OperatorConfig


def build_run_options(
    *,
    all_namespaces: bool,
    namespaces: tuple[str, ...],
    standalone: bool,
    liveness: str,
    metrics_port: int | None,
    config: OperatorConfig,
) -> RunOptions:
    """Validate the flag combination (kopf warns, then guesses, when neither scope is given)."""
    if all_namespaces and namespaces:
        raise click.UsageError("use either --all-namespaces or --namespace, not both")
    if not all_namespaces and not namespaces:
        raise click.UsageError("say where to watch: --all-namespaces or --namespace NS")
    if metrics_port is not None:
        config = dataclasses.replace(config, metrics_port=metrics_port or None)
    return RunOptions(
        clusterwide=all_namespaces,
        namespaces=tuple(dict.fromkeys(namespaces)),
        standalone=standalone,
        liveness_endpoint=liveness or None,
        config=config,
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syft-operator")
@click.option("-A", "--all-namespaces", is_flag=True, help="Serve SyftMonitors in all namespaces.")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Serve SyftMonitors in this namespace (repeatable; globs as in kopf).",
)
@click.option("--standalone", is_flag=True, help="No peering with other operator replicas.")
@click.option(
    "--liveness",
    default=DEFAULT_LIVENESS,
    show_default=True,
    help="kopf's liveness endpoint URL; empty to disable.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus /metrics on this port (0: off). [env SYFT_OPERATOR_METRICS_PORT]",
)
@click.option(
    "--allow-image",
    "allow_images",
    multiple=True,
    help="Allow SyftMonitors to name this image in spec.image: a repository, a prefix ending in"
    " /, or a sha256: digest (repeatable; adds to SYFT_OPERATOR_ALLOWED_IMAGES).",
)
@click.option(
    "--allow-api-root",
    "allow_api_roots",
    multiple=True,
    help="Allow this spec.googleApiRoot, which also receives the token refresh (repeatable; adds"
    " to SYFT_OPERATOR_ALLOWED_API_ROOTS).",
)
@click.option(
    "--allow-smtp-host",
    "allow_smtp_hosts",
    multiple=True,
    help="Allow an SMTP sender with a password Secret to log in to this host (repeatable; adds"
    " to SYFT_OPERATOR_ALLOWED_SMTP_HOSTS).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.option("-d", "--debug", is_flag=True, help="Log everything, including API traffic.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings and errors only.")
@click.option(
    "--log-format",
    type=click.Choice(["plain", "full", "json"]),
    default="full",
    show_default=True,
)
def command(
    all_namespaces: bool,
    namespaces: tuple[str, ...],
    standalone: bool,
    liveness: str,
    metrics_port: int | None,
    allow_images: tuple[str, ...],
    allow_api_roots: tuple[str, ...],
    allow_smtp_hosts: tuple[str, ...],
    verbose: bool,
    debug: bool,
    quiet: bool,
    log_format: str,
) -> None:
    """Reconcile SyftMonitor custom resources into monitor workloads."""
    try:
        config = OperatorConfig.from_env()
    except OperatorError as error:
        raise click.UsageError(str(error)) from error
    config = dataclasses.replace(
        config,
        allowed_images=tuple(dict.fromkeys(config.allowed_images + allow_images)),
        allowed_api_roots=tuple(dict.fromkeys(config.allowed_api_roots + allow_api_roots)),
        allowed_smtp_hosts=tuple(dict.fromkeys(config.allowed_smtp_hosts + allow_smtp_hosts)),
    )
    options = build_run_options(
        all_namespaces=all_namespaces,
        namespaces=namespaces,
        standalone=standalone,
        liveness=liveness,
        metrics_port=metrics_port,
        config=config,
    )
    run(options, verbose=verbose, debug=debug, quiet=quiet, log_format=log_format)


def run(
    options: RunOptions,
    *,
    verbose: bool = False,
    debug: bool = False,
    quiet: bool = False,
    log_format: str = "full",
) -> None:
    """Configure logging and metrics, register the handlers, and run kopf until signalled."""
    import kopf  # noqa: PLC0415 - keeps `--help` fast and free of kopf's import side effects

    kopf.configure(
        debug=debug, verbose=verbose, quiet=quiet, log_format=kopf.LogFormat[log_format.upper()]
    )
    from syft_operator import handlers  # noqa: PLC0415
    from syft_operator.metrics import OperatorMetrics  # noqa: PLC0415
    from syft_operator.watches import plain_namespaces  # noqa: PLC0415

    runtime = handlers.Runtime(config=options.config, metrics=OperatorMetrics())
    # The operator's own streams watch the children where it knows the namespaces; kopf
    # resolves globs itself, so with one it watches the children too.
    if options.clusterwide:
        runtime.watch_namespaces = (None,)
    elif plain_namespaces(options.namespaces):
        runtime.watch_namespaces = options.namespaces
    registry = kopf.OperatorRegistry()
    handlers.register(registry, kopf_watches_children=not runtime.watch_namespaces)
    if options.config.metrics_port is not None:
        runtime.metrics.serve(options.config.metrics_port, options.config.metrics_host)
    kopf.run(
        registry=registry,
        clusterwide=options.clusterwide,
        namespaces=list(options.namespaces),
        standalone=options.standalone,
        liveness_endpoint=options.liveness_endpoint,
        memo=kopf.Memo(runtime=runtime),
    )


def main() -> None:
    command()
