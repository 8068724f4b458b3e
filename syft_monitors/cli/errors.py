"""Turn our exceptions into one readable line and a meaningful exit code."""

from __future__ import annotations

import sys

import click

from syft_monitors.errors import ConfigError, ProtocolError, SyftMonitorError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def exit_code_for(error: SyftMonitorError) -> int:
    """Usage, config and unreadable-input errors are 2 (as click does for usage); others 1."""
    return EXIT_USAGE if isinstance(error, ConfigError | ProtocolError) else EXIT_FAILURE


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    hint = getattr(error, "hint", None)
    return f"{text} (hint: {hint})" if hint else text


def run_cli(group: click.Group) -> int:
    """Run the click group; print our errors as `error: ...` on stderr instead of tracebacks."""
    try:
        # Without standalone mode click returns ctx.exit(code)'s code instead of raising it.
        result = group.main(standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as usage:
        usage.show()
        return usage.exit_code
    except click.Abort:
        print("aborted", file=sys.stderr)
        return EXIT_FAILURE
    except SyftMonitorError as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return exit_code_for(error)
    return result if type(result) is int else EXIT_OK
