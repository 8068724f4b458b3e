"""Email bodies from jinja2 templates shipped as package data.

Each email has two templates, ``<name>.txt.j2`` and ``<name>.html.j2``. The environment
autoescapes the HTML ones (by extension) and not the text ones. As a second line of defence every
value interpolated into any template passes through `clean_block` (control characters dropped,
invisible characters made visible), so even a context value that skipped the planner's cleaning
cannot smuggle a terminal escape or a bidi override into a body.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import jinja2
from markupsafe import Markup

from syft_monitors.notify.preview import format_size
from syft_monitors.notify.sanitize import clean_block, clean_line

logger = logging.getLogger(__name__)

TEMPLATE_PACKAGE = "syft_monitors.notify"
TEMPLATE_FOLDER = "templates"


@dataclasses.dataclass(frozen=True, slots=True)
class RenderedBody:
    text: str
    html: str | None


def _finalize(value: object) -> object:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return clean_block(value)


def format_when(value: object) -> str:
    """An ISO 8601 timestamp as ``May 14, 2026 at 09:30 UTC``; anything else shown as is."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return clean_line(text, limit=80)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%B %d, %Y at %H:%M UTC")


def format_interval(seconds: object) -> str:
    """Compact interval: 86400 -> ``1d``, whole hours ``Nh``, whole minutes ``Nm``, else ``Ns``."""
    value = int(seconds) if isinstance(seconds, int | float) else 0
    if value > 0 and value % 86400 == 0:
        return f"{value // 86400}d"
    if value > 0 and value % 3600 == 0:
        return f"{value // 3600}h"
    if value > 0 and value % 60 == 0:
        return f"{value // 60}m"
    return f"{value}s"


def _format_size(value: object) -> str:
    return format_size(value) if isinstance(value, int) else "?"


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_FOLDER),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "html.j2"),
            disabled_extensions=("txt", "txt.j2"),
            default_for_string=True,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["when"] = format_when
    env.filters["interval"] = format_interval
    env.filters["size"] = _format_size
    return env


class Renderer:
    """Renders the text and HTML bodies of one email; safe to share between threads."""

    def __init__(self, environment: jinja2.Environment | None = None) -> None:
        self._env = environment or make_environment()

    def render(
        self, name: str, context: Mapping[str, object], *, html: bool = True
    ) -> RenderedBody:
        """Both bodies of template `name`. A broken HTML template degrades to text-only
        (the notification matters more than its looks); a broken text template raises."""
        text = self._env.get_template(f"{name}.txt.j2").render(context).strip() + "\n"
        if not html:
            return RenderedBody(text=text, html=None)
        try:
            body = self._env.get_template(f"{name}.html.j2").render(context)
        except jinja2.TemplateError as exc:
            logger.error(
                "HTML template %s failed (%s); sending text only", name, type(exc).__name__
            )
            return RenderedBody(text=text, html=None)
        return RenderedBody(text=text, html=body)


@functools.cache
def default_renderer() -> Renderer:
    return Renderer()
