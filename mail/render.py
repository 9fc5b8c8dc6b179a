"""Fill the plain-text and HTML templates of one message.

Templates are `string.Template` files under `templates/`, one `<name>.txt` and
one `<name>.html` per message. Values are escaped for the HTML part here, in a
single place, so no template can forget it.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template

TEMPLATES_DIR = Path(__file__).parent / "templates"


@cache
def _load(filename: str) -> Template:
    return Template((TEMPLATES_DIR / filename).read_text(encoding="utf-8"))


def render(name: str, values: dict[str, str]) -> tuple[str, str]:
    """Return `(text, html)` for template `name`; a missing value raises KeyError."""
    text = _load(f"{name}.txt").substitute(values)
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    markup = _load(f"{name}.html").substitute(escaped)
    return text, markup
