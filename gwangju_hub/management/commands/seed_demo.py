"""Idempotent demo data across every app (or benchmark-scale data with --issues)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agencies import demo as agencies_demo
from issues import demo as issues_demo
from meetings import demo as meetings_demo


class Command(BaseCommand):
    help = (
        "Create or update demo organizations, users, about forty demo issues, and this "
        "year's and next year's meetings with agendas, minutes and performance reports "
        "(safe to run repeatedly: existing demo rows are left alone). "
        "With --issues N and/or --comments M, also top the database up to N generated "
        "issues and M comments on them, with bulk inserts, for benchmarks. N and M are "
        "totals, not increments, and do not count the demo issues: running the same "
        "command twice adds nothing, and a larger N adds only the difference."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--issues",
            type=int,
            default=0,
            metavar="N",
            help="Make sure N generated issues exist (besides the demo ones).",
        )
        parser.add_argument(
            "--comments",
            type=int,
            default=0,
            metavar="M",
            help="Make sure M comments exist on the generated issues.",
        )

    def handle(self, *args, issues: int, comments: int, **options) -> None:
        if issues < 0 or comments < 0:
            raise CommandError("--issues and --comments must not be negative.")
        with transaction.atomic():
            agencies = agencies_demo.seed_agencies(self.stdout)
            logins = agencies_demo.seed_users(self.stdout, agencies)
        issues_demo.seed_demo_issues(self.stdout)
        meetings_demo.seed_demo_meetings(self.stdout)
        if issues or comments:
            issues_demo.seed_bulk(self.stdout, issues=issues, comments=comments)
        agencies_demo.print_logins(self.stdout, logins)
