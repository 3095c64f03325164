"""Print the number of SQL queries (and time) of the issue list and detail pages.

Runs against whatever DATABASE_URL points to, signed in as a Mayor's office
user (who sees every issue), e.g. after `seed_demo --issues 20000 --comments 100000`:

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1/gwangju_bench python scripts/query_counts.py
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gwangju_hub.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from agencies.models import User  # noqa: E402
from issues.models import Issue  # noqa: E402


def measure(client: Client, url: str) -> tuple[int, float, int]:
    client.get(url)  # warm caches and connections
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
    return len(queries), elapsed * 1000, response.status_code


def main() -> None:
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.filter(role="mayor_office", is_superuser=False).first())
    busiest = (
        Issue.objects.annotate(n=Count("comments")).order_by("-n").values_list("pk", "n").first()
    )
    print(f"issues: {Issue.objects.count()}, database: {connection.vendor}")
    for label, url in [
        ("list", "/issues/"),
        ("list, search", "/issues/?q=인공지능"),
        ("list, filtered", "/issues/?status=open&priority=high&sort=due"),
        (f"detail (#{busiest[0]}, {busiest[1]} comments)", f"/issues/{busiest[0]}/"),
    ]:
        count, ms, status = measure(client, url)
        print(f"  {label:<36} {count:>3} queries  {ms:7.1f} ms  HTTP {status}")


if __name__ == "__main__":
    main()
