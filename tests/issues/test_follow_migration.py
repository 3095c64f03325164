"""Migration 0009: who filed, is assigned to or commented on an issue follows it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("issues", "0008_notification_delivery")]
AFTER = [("issues", "0009_follow")]


@pytest.fixture(autouse=True)
def _schema_back_to_latest():
    """Leave the database as every later test expects it: fully migrated.

    Stopping at 0009 left the saved searches' table (0010) and later indexes
    missing for the rest of the session: a later test whose subprocess read
    them failed, depending only on the order the tests ran in.
    """
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_participants_follow_their_issues(alice, bob, hana):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Issue = apps.get_model("issues", "Issue")
    Comment = apps.get_model("issues", "Comment")
    issue = Issue.objects.create(
        title="옛 현안", lead_agency_id=alice.agency_id, created_by_id=alice.pk, assignee_id=hana.pk
    )
    Comment.objects.create(issue=issue, author_id=bob.pk, body="의견")
    Comment.objects.create(issue=issue, author_id=alice.pk, body="답변")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps

    follows = apps.get_model("issues", "Follow").objects.filter(issue_id=issue.pk)
    assert dict(follows.values_list("user_id", "source")) == {
        alice.pk: "filed",
        hana.pk: "assigned",
        bob.pk: "commented",
    }
