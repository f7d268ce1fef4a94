"""python manage.py sync_salesforce [--all | --subscription ID] [--dry-run] [--force]

Without a selection it pushes whatever is due now (what the beat sweeper does). `--all`
marks every in-scope subscription dirty first; `--subscription` pushes one subscription
right away. `--dry-run` prints the records that would be sent and calls nothing.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.models import Subscription
from crm import mapping
from crm.models import ContractSync
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.factory import get_client
from crm.services import claims, flush, org_state, sync_state
from crm.services.org_schema import cached_multi_currency


def find_subscription(reference: str) -> Subscription:
    """By `provider:external_id`, database id, or external id when that is unambiguous."""
    queryset = Subscription.objects.select_related("customer")
    provider, sep, external = reference.partition(":")
    if sep:
        found = queryset.filter(provider=provider, external_id=external).first()
        if found is not None:
            return found
    if reference.isdigit():
        found = queryset.filter(pk=int(reference)).first()
        if found is not None:
            return found
    matches = list(queryset.filter(external_id=reference)[:2])
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CommandError(f"{reference!r} exists for several providers; use provider:id")
    raise CommandError(f"no subscription {reference!r}")


class Command(BaseCommand):
    help = "Push subscriptions to Salesforce as Accounts and Contracts."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--all", action="store_true",
                           help="mark every in-scope subscription dirty, then push")
        which.add_argument("--subscription", metavar="ID",
                           help="push one subscription (provider:id, id or external id)")
        parser.add_argument("--dry-run", action="store_true",
                            help="print the records that would be sent; call nothing")
        parser.add_argument("--force", action="store_true",
                            help="push even when the payload is unchanged since the last push")
        parser.add_argument("--forget-contract", action="store_true",
                            help="with --subscription: forget the Salesforce ids we hold "
                                 "(after an admin removed the old contract)")

    def handle(self, *args, subscription, dry_run, force, forget_contract, **options):
        everything = options["all"]
        if forget_contract and not subscription:
            raise CommandError("--forget-contract needs --subscription")
        if dry_run:
            self._dry_run(everything=everything, reference=subscription)
            return
        client = get_client()
        if client is None:
            missing = ", ".join(SalesforceConfig.from_settings().missing())
            raise CommandError(f"Salesforce is not configured: {missing} not set")
        # A forced sync: never defer rows on a usage figure from before usage fell.
        org_state.expire_api_usage()
        if subscription:
            self._one(client, subscription, force=force, forget=forget_contract)
            return
        if everything:
            marked = sync_state.mark_in_scope_dirty(force=force)
            self.stdout.write(f"{marked} subscriptions marked for a push")
        report = flush.flush_due(client=client, time_budget=float("inf"))
        self._report(report)

    def _one(self, client, reference: str, *, force: bool, forget: bool) -> None:
        sub = find_subscription(reference)
        if forget:
            sync = ContractSync.objects.filter(subscription=sub).first()
            if sync is not None:
                sync_state.forget_contract(sync=sync)
        sync = sync_state.mark_dirty(subscription=sub, force=force)
        if sync is None:
            self.stdout.write(f"{sub}: status {sub.status} is not synced and Salesforce has no "
                              "contract for it; nothing to push")
            return
        claimed_at = timezone.now()
        ids = claims.claim_due(limit=1, lease_seconds=settings.SUBSYNC_SF_CLAIM_SECONDS,
                               only_ids=[sync.pk], now=claimed_at)
        if not ids:
            raise CommandError(f"{sub}: another worker is pushing it right now; try again")
        report = flush.push_claimed(client=client, ids=ids, claimed_at=claimed_at)
        self._report(report)
        sync.refresh_from_db()
        line = (f"{sub}: {sync.state}; Account {sync.sf_account_id or '-'}, Contract "
                f"{sync.sf_contract_id or '-'} ({sync.sf_contract_status or 'not created'})")
        if sync.last_error:
            line += f"; {sync.last_error_code}: {sync.last_error}"
        self.stdout.write(line)

    def _report(self, report: flush.FlushReport) -> None:
        self.stdout.write(json.dumps(report.as_dict()))
        if report.stopped:
            self.stderr.write(f"stopped early: {report.stopped}")

    def _dry_run(self, *, everything: bool, reference: str | None) -> None:
        config = SalesforceConfig.from_settings()
        known = cached_multi_currency(config=config)
        if known is None:
            self.stderr.write("multi-currency unknown without a call: CurrencyIsoCode not shown")
        fields = mapping.FieldConfig.from_settings()
        if reference:
            subs = [find_subscription(reference)]
        else:
            queryset = Subscription.objects.select_related("customer").order_by("id")
            if everything:
                subs = queryset.filter(status__in=settings.SUBSYNC_SYNC_STATUSES) | (
                    queryset.filter(contract_sync__sf_contract_id__gt=""))
            else:
                due = ContractSync.objects.filter(claims.due_filter(now=timezone.now()))
                subs = queryset.filter(contract_sync__in=due)
            subs = subs.distinct().iterator()
        for sub in subs:
            payload = mapping.build_payload(sub, multi_currency=bool(known),
                                            activate=sync_state.in_sync_scope(sub.status),
                                            config=fields)
            self.stdout.write(json.dumps({
                "subscription": str(sub), "account": payload.account,
                "contract": payload.contract, "activate": payload.activate,
                "digest": payload.digest,
            }, sort_keys=True))

