"""`syft-bg auto-approve`, `list-auto-approvals`, `remove-auto-approval`, `remove-peer`.

Every rule written pins what runs (the job's `run.sh` and its declared type, entrypoint and
dependencies); `auto-approve --from-job FOLDER` takes all of it from a job the owner reviewed.
They edit the `approve:` section of the config file (`--config`, else the group's config path,
else `$SYFT_MONITOR_HOME/config.yaml`). A running approve service re-reads the file every tick,
so a change applies within one interval, without a restart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from syft_monitors.approve.authoring import (
    add_rule,
    build_rule,
    remove_peer,
    remove_rule,
    rule_from_job,
)
from syft_monitors.approve.config_file import EditResult, edit_settings, read_settings
from syft_monitors.approve_rules import ApproveSettings, AutoApprovalRule
from syft_monitors.cli.hints import approve_service_note
from syft_monitors.config import default_config_path

_config_option = click.option(
    "--config",
    "config_option",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file to edit (default: the syft-bg config).",
)


def _config_path(ctx: click.Context, option: Path | None) -> Path:
    if option is not None:
        return Path(os.path.expanduser(str(option)))
    obj = ctx.find_root().obj
    if isinstance(obj, Mapping):
        try:
            value = obj["config_path"]
        except KeyError:
            value = None
        if value:
            return Path(os.path.expanduser(str(value)))
    return default_config_path()


def _saved(result: EditResult, path: Path) -> None:
    if not result.comments_kept:
        click.echo(
            f"note: {path} was rewritten as plain YAML; its comments could not be kept", err=True
        )


@click.command("auto-approve")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-p", "--peer", "peers", multiple=True, help="Submitter allowed (repeat; default any)."
)
@click.option("-n", "--name", default=None, help="Rule name (default: from the file name).")
@click.option(
    "-f",
    "--file-path",
    "name_only",
    multiple=True,
    help="A file matched by its path only, any content (repeat), e.g. params.json.",
)
@click.option(
    "-b",
    "--base-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Store FILES by their path below this folder instead of by name.",
)
@click.option(
    "--run-sh",
    "run_scripts",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Accept only this run.sh, byte for byte (repeat), instead of the generated one.",
)
@click.option(
    "--from-job",
    "from_job",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A job folder you reviewed (inbox/DS/JOB): approve exactly that job in future, "
    "code, declaration and run.sh (peer: its submitter unless -p).",
)
@click.option(
    "-d",
    "--dependency",
    "dependencies",
    multiple=True,
    help="A dependency the job declares, in config.yaml's order, the syft-client install "
    "source first (repeat), e.g. -d syft-client==0.1.117 -d pandas.",
)
@click.option("--entrypoint", default=None, help="The file python runs (default: as syft-job).")
@click.option(
    "--type",
    "job_type",
    type=click.Choice(["python", "bash"]),
    default="python",
    show_default=True,
    help="The job type config.yaml declares.",
)
@click.option(
    "--allow-unreviewed-run-sh",
    is_flag=True,
    help="DANGEROUS: approve whatever run.sh and dependencies the data scientist sends.",
)
@_config_option
@click.pass_context
def auto_approve_command(
    ctx: click.Context,
    files: tuple[Path, ...],
    peers: tuple[str, ...],
    name: str | None,
    name_only: tuple[str, ...],
    base_dir: Path | None,
    run_scripts: tuple[Path, ...],
    from_job: Path | None,
    dependencies: tuple[str, ...],
    entrypoint: str | None,
    job_type: str,
    allow_unreviewed_run_sh: bool,
    config_option: Path | None,
) -> None:
    """Approve future jobs whose code/ files are exactly FILES (by SHA-256) plus -f files,
    whose config.yaml declares exactly the given job and whose run.sh is the one syft-job
    generates for it; or, with --from-job, future jobs identical to a reviewed one."""
    if from_job is not None:
        if files or run_scripts or dependencies or entrypoint or base_dir:
            raise click.UsageError("--from-job takes everything from the job: give no FILES")
    elif not files and not name_only:
        raise click.UsageError("give at least one file (FILES or -f), or --from-job")
    path = _config_path(ctx, config_option)
    created: list[AutoApprovalRule] = []

    def change(settings: ApproveSettings) -> ApproveSettings:
        if from_job is not None:
            rule = rule_from_job(settings, from_job, name_only=name_only, peers=peers, name=name)
        else:
            rule = build_rule(
                settings,
                files=files,
                name_only=name_only,
                peers=peers,
                name=name,
                base_dir=base_dir,
                run_scripts=run_scripts,
                job_type=job_type,
                entrypoint=entrypoint,
                dependencies=dependencies or None,
                allow_unreviewed_run_sh=allow_unreviewed_run_sh,
            )
        created.append(rule)
        return add_rule(settings, rule)

    result = edit_settings(path, change)
    _saved(result, path)
    rule = created[-1]
    if rule.unreviewed():
        click.echo(
            f"warning: rule {rule.name!r} lets the data scientist choose what runs "
            "(--allow-unreviewed-run-sh)",
            err=True,
        )
    who = ", ".join(rule.peers) if rule.peers else "any peer"
    click.echo(
        f"added auto-approval rule {rule.name!r}: {len(rule.file_contents)} file(s) matched by "
        f"content, {len(rule.file_paths)} by name only; submitters: {who}"
    )
    for line in _pins(rule):
        click.echo(f"  {line}")
    click.echo(approve_service_note(path, read_settings(path).interval))


def _pins(rule: AutoApprovalRule) -> list[str]:
    """What the rule checks besides the code files, and what it leaves open."""
    lines = []
    if rule.job is not None:
        deps = ", ".join(rule.job.dependencies) or "none"
        entry = f", entrypoint {rule.job.entrypoint}" if rule.job.entrypoint else ""
        lines.append(f"declares: {rule.job.type}{entry}; dependencies: {deps}")
    scripts = []
    if rule.canonical_run_sh:
        scripts.append("the script syft-job generates")
    if rule.run_sh_sha256:
        scripts.append(f"{len(rule.run_sh_sha256)} pinned script(s)")
    if scripts:
        lines.append(f"run.sh: {' or '.join(scripts)}")
    open_parts = rule.unreviewed()
    if open_parts and rule.allow_unreviewed_run_sh:
        lines.append(f"UNREVIEWED (allow_unreviewed_run_sh): {'; '.join(open_parts)}")
    elif open_parts:
        lines.append(f"INACTIVE, approves nothing until pinned: {'; '.join(open_parts)}")
    return lines


@click.command("list-auto-approvals")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@_config_option
@click.pass_context
def list_auto_approvals_command(
    ctx: click.Context, as_json: bool, config_option: Path | None
) -> None:
    """Show the auto-approval rules, approved peers and approved domains."""
    path = _config_path(ctx, config_option)
    settings = read_settings(path)
    if as_json:
        document: dict[str, Any] = {
            "config": str(path),
            "interval": settings.interval,
            "approved_domains": list(settings.approved_domains),
            "approved_peers": list(settings.approved_peers),
            "auto_approvals": [rule.model_dump(mode="json") for rule in settings.auto_approvals],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    click.echo(f"Auto-approval rules ({len(settings.auto_approvals)}) in {path}:")
    if not settings.auto_approvals:
        click.echo("  (none: add one with `syft-bg auto-approve FILES...`)")
    for rule in settings.auto_approvals:
        who = ", ".join(rule.peers) if rule.peers else "any peer"
        click.echo(f"  {rule.name}  (submitters: {who})")
        for item in rule.file_contents:
            click.echo(f"    {item.relative_path}  sha256 {item.sha256[:16]}…")
        for file_path in rule.file_paths:
            click.echo(f"    {file_path}  (any content)")
        for line in _pins(rule):
            click.echo(f"    {line}")
    click.echo(f"Approved peers: {', '.join(settings.approved_peers) or '(none)'}")
    click.echo(f"Approved domains: {', '.join(settings.approved_domains) or '(none)'}")


@click.command("remove-auto-approval")
@click.argument("name")
@_config_option
@click.pass_context
def remove_auto_approval_command(ctx: click.Context, name: str, config_option: Path | None) -> None:
    """Delete the auto-approval rule NAME."""
    path = _config_path(ctx, config_option)
    result = edit_settings(path, lambda settings: remove_rule(settings, name))
    _saved(result, path)
    click.echo(f"removed auto-approval rule {name!r}")


@click.command("remove-peer")
@click.argument("peer")
@click.option("-n", "--name", default=None, help="Only from this rule (default: everywhere).")
@_config_option
@click.pass_context
def remove_peer_command(
    ctx: click.Context, peer: str, name: str | None, config_option: Path | None
) -> None:
    """Stop auto-approving PEER: remove it from rules (and approved_peers)."""
    path = _config_path(ctx, config_option)
    outcome: list[Any] = []

    def change(settings: ApproveSettings) -> ApproveSettings:
        removal = remove_peer(settings, peer, name=name)
        outcome.append(removal)
        return removal.settings

    result = edit_settings(path, change)
    _saved(result, path)
    removal = outcome[-1]
    for rule_name in removal.narrowed:
        click.echo(f"removed {peer} from rule {rule_name!r}")
    for rule_name in removal.deleted:
        click.echo(f"deleted rule {rule_name!r}: {peer} was its only peer (empty means anyone)")
    if removal.unlisted:
        click.echo(f"removed {peer} from approved_peers")


approve_commands = (
    auto_approve_command,
    list_auto_approvals_command,
    remove_auto_approval_command,
    remove_peer_command,
)
