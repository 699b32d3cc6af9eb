# Copyright: PATN infrastructure team
# Apache License 2.0
"""The report pages' templates, rendered by one Jinja environment.

scripts/report (one page per ministry) and the drift report (drift_report,
written by the callback patn.infra.audit) render their pages from
scripts/templates; the HTML pages extend page.html.j2, which holds the
skeleton and the one stylesheet.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

# The collection is the checkout: its scripts/ ship with it.
TEMPLATES = Path(__file__).resolve().parents[2] / "scripts" / "templates"


def environment() -> Environment:
    """The Jinja environment of every report page."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        # The HTML templates are *.html.j2: "html" alone would not match their
        # names, and registry text (a site's name) or a diff's '<' would be
        # read as markup.
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
    )
