"""The one Jinja2 environment of the reports: autoescape on for every template, people's formats
as filters. Sections render their fragments with it; the page renderer wraps them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from markupsafe import Markup


@lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from perfops.model import format as fmt

    env = Environment(
        loader=PackageLoader("perfops.reports", "templates"),
        autoescape=True,  # everywhere, whatever the file extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update({
        "number": fmt.number, "compact": fmt.compact, "ms": fmt.ms, "pct": fmt.pct, "change": fmt.change,
        "money": fmt.money, "duration": fmt.duration, "metric_label": fmt.metric_label,
        "safe_fragment": trusted_fragment,
    })
    return env


def render_fragment(template: str, **values: Any) -> Markup:
    """Render templates/<template> with autoescaping; the result is safe to embed."""
    return Markup(environment().get_template(template).render(**values))


def trusted_fragment(html: str) -> Markup:
    """A section's HTML, which the section built with autoescaping (see Section.html)."""
    return html if isinstance(html, Markup) else Markup(html)
