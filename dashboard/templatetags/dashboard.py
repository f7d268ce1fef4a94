"""Template filters for the dashboard (see dashboard/formatting.py for the rules)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.html import format_html

from crm.selectors import record_url
from dashboard import formatting

register = template.Library()


@register.filter
def money(amount, currency):
    """{{ row.mrr|money:row.currency }} -> "$1,234.56"."""
    return formatting.format_money(amount, currency)



@register.filter
def money_signed(amount, currency):
    return formatting.format_money(amount, currency, whole=True, signed=True)


@register.filter
def rate(value, places=1):
    return formatting.format_rate(value, places=int(places))


@register.filter
def count(value):
    return formatting.format_count(value)


@register.filter
def day(value):
    """A date as people think of it: "12 Jan 2027" (in the viewer's zone for datetimes)."""
    if value is None or value == "":
        return formatting.DASH
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    if isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    return value


@register.filter
def when(value):
    """A moment as a relative time with the exact time on hover, in a <time> element."""
    if not value:
        return formatting.DASH
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    exact = f"{local.day} {local:%b %Y %H:%M:%S} {local:%Z}".strip()
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact,
                       naturaltime(value))


@register.simple_tag(takes_context=True)
def query(context, **changes):
    """The current query string with `changes` applied (None or "" removes a key), so that
    filters, sorting and pages stay links that can be bookmarked."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


# Status words and the colour each is shown in (always with the word: never colour alone).
_BADGES = {
    "good": {"active", "processed", "synced", "success", "ok", "renewing", "accepting", "new",
             "expansion", "reactivation"},
    "info": {"trial", "future", "received", "processing", "pending", "started"},
    "warn": {"past_due", "non_renewing", "rejected", "parked", "partial", "ending", "paused",
             "contraction"},
    "bad": {"cancelled", "failed", "churn", "expired", "refused"},
}
_LABELS = {"past_due": "past due", "non_renewing": "non-renewing"}


@register.filter
def badge(status):
    """<span class="badge …">status</span> for any status the dashboard shows."""
    word = str(status or "")
    kind = next((k for k, words in _BADGES.items() if word in words), "plain")
    return format_html('<span class="badge {}">{}</span>', kind,
                       _LABELS.get(word, word.replace("_", " ")) or formatting.DASH)


@register.filter
def page_span(page, noun="rows"):
    """e.g. "1-50 of 1,234 rows" (an en dash) for a selector Page (items, number, size, total)."""
    if not page.total:
        return f"0 {noun}"
    first = (page.number - 1) * page.size + 1
    last = first + len(page.items) - 1
    if last < first:
        return f"{page.total:,} {noun}"
    return f"{first:,}\u2013{last:,} of {page.total:,} {noun}"


@register.inclusion_tag("dashboard/_total.html")
def total(value, whole=True, signed=False):
    """A MoneyTotal in the reporting currency, with its per-currency breakdown on hover and
    below, and the missing-rate warning when a currency could not be converted."""
    fmt = formatting.format_money
    breakdown = [fmt(amount, code, whole=whole) for code, amount in value.breakdown.items()]
    several = len(value.breakdown) > 1 or (value.breakdown and value.currency
                                           not in value.breakdown)
    return {
        "text": fmt(value.amount, value.currency, whole=whole, signed=signed),
        "breakdown": breakdown if several else [],
        "breakdown_text": " + ".join(breakdown),
        "basis": value.basis,
        "warning": value.warning,
    }


@register.simple_tag(takes_context=True)
def sf_link(context, sobject, record_id, label=""):
    """A link to a record in the org's Lightning UI (instance URL recorded at login), or the
    bare id while no instance URL is known; a dash when there is no record yet."""
    if not record_id:
        return format_html('<span class="muted" title="{}">{}</span>',
                           f"No {sobject} in Salesforce yet", formatting.DASH)
    target = context.get("salesforce")
    url = record_url(instance_url=getattr(target, "instance_url", None), sobject=sobject,
                     record_id=record_id)
    text = label or record_id
    if url is None:
        return format_html("<code>{}</code>", text)
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, text)


@register.filter
def signed_count(value):
    if value is None:
        return formatting.DASH
    sign = "+" if value > 0 else (formatting.MINUS if value < 0 else "±")
    return f"{sign}{abs(value):,}"


@register.filter
def points(value):
    """A change between two rates (fractions) in percentage points: "+0.4 pp"."""
    if value is None:
        return formatting.DASH
    pp = (value * 100).quantize(Decimal("0.1"))
    sign = "+" if pp > 0 else (formatting.MINUS if pp < 0 else "±")
    return f"{sign}{abs(pp)}\u00a0pp"


@register.filter
def trend(value, good_when="up"):
    """CSS class for a change: "up" (good) or "down" (bad), by which direction is good."""
    if not value:
        return ""
    rising = value > 0
    return "up" if rising == (good_when == "up") else "down"


@register.filter
def money_signed_full(amount, currency):
    """A gain with its sign and the currency's decimals: "+$12.50"."""
    return formatting.format_money(amount, currency, signed=True)


@register.filter
def money_signed_neg(amount, currency):
    """A loss stored as a positive amount, shown as one, with a minus sign."""
    return formatting.format_money(-amount if amount else amount, currency, signed=True)
