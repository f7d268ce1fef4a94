"""The metric definitions (docs/metrics.md) as a page, so every figure can link to its
definition without leaving the dashboard."""

from __future__ import annotations

from functools import lru_cache

import markdown
from django.conf import settings
from django.shortcuts import render
from django.utils.safestring import mark_safe

from dashboard.access import staff_required

DEFINITIONS = settings.BASE_DIR / "docs" / "metrics.md"


@lru_cache(maxsize=1)
def _rendered(mtime: float) -> str:
    # Our own file, not user input; the toc extension gives each heading an id to link to.
    return markdown.markdown(DEFINITIONS.read_text(encoding="utf-8"),
                             extensions=["tables", "toc"])


@staff_required
def definitions(request):
    html = _rendered(DEFINITIONS.stat().st_mtime)
    return render(request, "dashboard/definitions.html",
                  {"definitions": mark_safe(html)})  # noqa: S308 - our own docs file
