"""Idempotent demo data across every app (or benchmark-scale data with --issues)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from agencies import demo as agencies_demo


class Command(BaseCommand):
    help = "Create or update demo organizations, users and issues (safe to run repeatedly)."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            agencies = agencies_demo.seed_agencies(self.stdout)
            logins = agencies_demo.seed_users(self.stdout, agencies)
        agencies_demo.print_logins(self.stdout, logins)
