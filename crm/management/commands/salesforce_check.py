"""python manage.py salesforce_check [--json]

Logs in to Salesforce and checks that the org has everything the push needs
(crm.services.preflight): the mapped fields with suitable types, External ID + Unique
external ids, create and edit access for the integration user, multi-currency, API usage.
Prints what is wrong and how to fix it; exits 1 when anything required is missing. Needs no
database, so it can run before `migrate` in a deploy pipeline.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from crm.services import preflight

_MARK = {preflight.ERROR: "ERROR", preflight.WARNING: "warn ", preflight.INFO: "ok   "}


class Command(BaseCommand):
    help = "Check that the Salesforce org is ready for subsync; exit 1 if it is not."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="print the findings as JSON")

    def handle(self, *args, as_json: bool = False, **options):
        report = preflight.run_preflight()
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write(f"Salesforce check: {report.login_url} ({report.auth_flow} flow)")
            for finding in report.findings:
                self.stdout.write(f"  {_MARK[finding.severity]}  {finding.message}")
            schema_problems = [f for f in report.findings
                               if f.check in ("object", "field", "external_id", "access")]
            if report.instance_url and not schema_problems:
                self.stdout.write(f"  {_MARK[preflight.INFO]}  every field subsync writes on "
                                  "Account and Contract is present, of a suitable type and "
                                  "editable, and the external ids are External ID + Unique")
        if not report.ok:
            count = len(report.errors)
            raise CommandError(
                f"{count} problem{'s' if count != 1 else ''} must be fixed before subsync can "
                "push to Salesforce", returncode=1)
        if not as_json:
            self.stdout.write("The org is ready for subsync.")
