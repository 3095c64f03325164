"""PostgreSQL plans a frequent statement once per connection, not once per request.

The bell's query joined six tables and took longer to plan than to run; with
psycopg's server-side binding and ``prepare_threshold`` (gwangju_hub/settings.py)
the second run of a statement on a connection prepares it, and later runs skip
parsing and planning.
"""

import pytest
from django.db import connection

from issues.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's; the embedded SQLite has none")


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_run_again_on_a_connection_is_prepared(postgresql, alice):
    query = Notification.objects.filter(recipient=alice, read_at=None)
    assert not any("issues_notification" in sql for sql in _prepared())

    for _ in range(3):
        query.count()

    assert any("issues_notification" in sql for sql in _prepared())


def test_parameters_are_bound_by_the_server(postgresql):
    assert connection.features.uses_server_side_binding
