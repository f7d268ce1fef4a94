"""python manage.py reconcile_salesforce [--dry-run] [--push]

Reads every Contract and Account carrying subsync's external ids, compares them with billing
(crm.services.reconcile), makes drifted and missing subscriptions due for a push, reports
orphans, stores a ReconcileRun and prints a summary. `--dry-run` only reports. `--push` runs
the push engine right away instead of leaving it to the worker.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from crm.salesforce.config import SalesforceConfig
from crm.salesforce.factory import get_client
from crm.services import flush, reconcile


def _shown(value) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def summary(result: reconcile.Reconciliation, *, samples: int = 5) -> list[str]:
    """The report as readable lines (also used by the dashboard's text export)."""
    title = "Salesforce reconciliation" + (" (dry run: nothing changed)" if result.dry_run else "")
    lines = [
        title,
        f"  Salesforce  {result.contracts_seen:,} contracts and {result.accounts_seen:,} accounts "
        f"with subsync ids, read in {result.api_calls} API calls",
        f"  compared    {result.checked:,} subscriptions: {result.in_sync:,} in sync, "
        f"{result.drifted:,} drifted, {result.missing:,} missing from Salesforce",
        f"  orphans     {result.orphans:,} contracts in Salesforce that billing does not know "
        "(left alone)",
    ]
    if result.dry_run:
        due = result.drifted + result.missing
        lines.append(f"  would mark  {due:,} subscriptions for a push")
    else:
        lines.append(f"  marked      {result.marked:,} subscriptions for a push")
    for item in result.samples["drifted"][:samples]:
        changes = "; ".join(f"{name}: Salesforce {_shown(values['salesforce'])}, billing "
                            f"{_shown(values['billing'])}"
                            for name, values in item["fields"].items())
        lines.append(f"  drifted     {item['subscription']} (Contract {item['contract']}): "
                     f"{changes}")
    for item in result.samples["missing"][:samples]:
        lines.append(f"  missing     {item['subscription']} ({item['status']})")
    for item in result.samples["orphans"][:samples]:
        lines.append(f"  orphan      Contract {item['contract']} {item['external_id']} "
                     f"(Account {item['account'] or '-'}, {item['status']})")
    return lines


class Command(BaseCommand):
    help = "Compare Salesforce with billing; push what drifted or is missing; report orphans."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="report only: mark nothing, store nothing")
        parser.add_argument("--push", action="store_true",
                            help="push the marked subscriptions now instead of via the worker")
        parser.add_argument("--samples", type=int, default=5,
                            help="examples shown per kind of difference (default 5)")

    def handle(self, *args, dry_run, push, samples, **options):
        if dry_run and push:
            raise CommandError("--push cannot be combined with --dry-run")
        client = get_client()
        if client is None:
            missing = ", ".join(SalesforceConfig.from_settings().missing())
            raise CommandError(f"Salesforce is not configured: {missing} not set")
        result = reconcile.reconcile(client=client, dry_run=dry_run)
        if not result.ok:
            raise CommandError(
                f"reconciliation failed: {result.error_code}: {result.error_message} "
                "(`python manage.py salesforce_check` tells what the org is missing)")
        for line in summary(result, samples=max(0, samples)):
            self.stdout.write(line)
        if push and result.marked:
            report = flush.flush_due(client=client, time_budget=float("inf"))
            self.stdout.write(f"  pushed      {json.dumps(report.as_dict())}")
        elif result.marked:
            self.stdout.write("  the worker pushes them shortly (or run "
                              "`python manage.py sync_salesforce`)")
