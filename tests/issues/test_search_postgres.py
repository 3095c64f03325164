"""Korean substring search is served by the pg_trgm indexes on PostgreSQL."""

import pytest
from django.db import connection

from issues.selectors import IssueFilters, issue_list

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="pg_trgm GIN indexes exist only on PostgreSQL; SQLite searches by a plain scan",
    ),
]


def test_trigrams_split_korean_text():
    with connection.cursor() as cursor:
        cursor.execute("SELECT array_length(show_trgm('정기회의 안내'), 1)")
        (count,) = cursor.fetchone()

    # A C locale would yield no trigrams for Hangul and break search silently.
    assert count >= 6


def test_the_search_query_can_use_the_trigram_indexes(open_issue, minji):
    queryset = issue_list(user=minji, filters=IssueFilters(q="인공지능"))
    # The WHERE clause is what the indexes serve; without ORDER BY the planner
    # cannot walk the updated_at index instead.
    sql, params = queryset.order_by().query.sql_with_params()

    with connection.cursor() as cursor:
        # With a handful of rows a sequential scan is cheaper; forbid it to see
        # whether the planner *can* answer from the indexes.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "issue_title_trgm_idx" in plan
    assert "issue_description_trgm_idx" in plan
    assert list(queryset) == [open_issue]
