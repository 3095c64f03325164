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


def _plan(queryset) -> str:
    # The WHERE clause is what the indexes serve; without ORDER BY the planner
    # cannot walk the updated_at index instead.
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        # With a handful of rows a sequential scan is cheaper; forbid it to see
        # whether the planner *can* answer from the indexes.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_korean_search_uses_the_raw_column_trigram_indexes(open_issue, minji):
    queryset = issue_list(user=minji, filters=IssueFilters(q="인공지능"))

    plan = _plan(queryset)

    assert "issue_title_raw_trgm_idx" in plan
    assert "issue_description_raw_trgm_idx" in plan
    assert "upper(" not in plan.lower()  # Hangul has no case: no UPPER() over every row
    assert list(queryset) == [open_issue]


def test_a_latin_search_is_case_insensitive_and_uses_the_upper_indexes(alice, minji):
    from issues import services

    issue = services.issue_create(
        actor=alice, title="AI Data Center 연계", lead_agency=alice.agency
    )
    queryset = issue_list(user=minji, filters=IssueFilters(q="data center"))

    plan = _plan(queryset)

    assert "issue_title_trgm_idx" in plan
    assert "issue_description_trgm_idx" in plan
    assert list(queryset) == [issue]


def test_a_two_syllable_search_reads_with_strpos_not_like(alice, minji):
    """pg_trgm has no trigram of 민원, so LIKE could only read every row: the
    match is STRPOS, a third faster a row than LIKE (docs/benchmarks.md)."""
    from issues import services

    issue = services.issue_create(actor=alice, title="민원 접수 창구", lead_agency=alice.agency)
    queryset = issue_list(user=minji, filters=IssueFilters(q="민원"))

    sql, _ = queryset.query.sql_with_params()

    assert "STRPOS" in sql.upper() and " LIKE " not in sql.upper()
    assert list(queryset) == [issue]


def test_a_two_syllable_search_uses_the_bigram_index(open_issue, minji):
    """The count and a rare word's page read the rows holding the word's
    two-character piece (migration 0013), not the whole table."""
    queryset = issue_list(user=minji, filters=IssueFilters(q="인공"))

    plan = _plan(queryset)

    assert "issue_search_bigrams_idx" in plan
    assert list(queryset) == [open_issue]


def test_the_bigrams_follow_every_change_of_title_and_description(alice, minji):
    """PostgreSQL generates the column from the row itself: whatever writes
    the issue (a service, the admin, update()), the search sees it at once."""
    from issues import services
    from issues.models import Issue

    issue = services.issue_create(
        actor=alice, title="셔틀 운영", description="주말 증편", lead_agency=alice.agency
    )

    def found(q):
        return list(issue_list(user=minji, filters=IssueFilters(q=q)))

    assert found("셔틀") == [issue] and found("증편") == [issue]
    Issue.objects.filter(pk=issue.pk).update(title="버스 운영", description="평일 감편")
    assert found("셔틀") == [] and found("증편") == []
    assert found("버스") == [issue] and found("감편") == [issue]


def test_a_two_character_search_does_not_match_across_title_and_description(alice, minji):
    """The title's last character and the description's first are not a
    piece of either: the search finds what STRPOS finds in one of them."""
    from issues import services

    services.issue_create(
        actor=alice, title="예산 가", description="나 계획", lead_agency=alice.agency
    )

    assert list(issue_list(user=minji, filters=IssueFilters(q="가나"))) == []


def test_analyze_keeps_enough_pieces_to_tell_a_rare_word():
    """With ANALYZE's default 100 kept pieces, a rare word was guessed common
    and its page walked the whole table by date (migration 0013)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstattarget FROM pg_attribute "
            "WHERE attrelid = 'issues_issue'::regclass AND attname = 'search_bigrams'"
        )
        (target,) = cursor.fetchone()

    assert target == 1000


def test_a_two_syllable_search_works_inside_a_subquery(open_issue, minji):
    """Inside a subquery Django renames the issues table (U0): the bigram
    column must follow, or the query names a table that is not there."""
    from issues.models import Issue

    matches = issue_list(user=minji, filters=IssueFilters(q="인공")).values("pk")

    assert list(Issue.objects.filter(pk__in=matches)) == [open_issue]
    assert list(Issue.objects.exclude(pk__in=matches)) == []
