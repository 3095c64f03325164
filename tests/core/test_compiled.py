"""core.compiled: querysets compiled once per key, run afresh every time."""

import threading

import pytest
from django.core.paginator import Paginator
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from agencies.models import Agency, User
from core.compiled import CompiledList, CompiledQueries
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


class Builds:
    """A build function that counts how often it is called."""

    def __init__(self, make):
        self.make, self.calls = make, 0

    def __call__(self):
        self.calls += 1
        return self.make()


def with_agency(pk):
    return Builds(lambda: User.objects.select_related("agency").filter(pk=pk))


def test_rows_are_the_querysets_instances_with_their_related_objects():
    person = UserFactory()
    compiled = CompiledQueries()

    (loaded,) = compiled.rows(person.pk, with_agency(person.pk))

    assert loaded == person
    with CaptureQueriesContext(connection) as queries:
        assert loaded.agency.name_ko == person.agency.name_ko
    assert len(queries) == 0, "select_related was kept"


def test_a_key_is_built_and_compiled_once_then_only_run():
    person = UserFactory()
    compiled = CompiledQueries()
    build = with_agency(person.pk)
    compiled.rows(person.pk, build)

    with CaptureQueriesContext(connection) as queries:
        compiled.rows(person.pk, build)
        compiled.rows(person.pk, build)

    assert build.calls == 1
    assert len(queries) == 2, "each call still runs the query"


def test_rows_are_read_afresh_on_every_call():
    person = UserFactory(first_name="민준")
    compiled = CompiledQueries()
    build = with_agency(person.pk)
    compiled.rows(person.pk, build)

    User.objects.filter(pk=person.pk).update(first_name="서연")
    Agency.objects.filter(pk=person.agency_id).update(name_ko="새 이름")
    (again,) = compiled.rows(person.pk, build)

    assert (again.first_name, again.agency.name_ko) == ("서연", "새 이름")
    User.objects.filter(pk=person.pk).delete()
    assert compiled.rows(person.pk, build) == []


def test_keys_are_kept_apart():
    first, second = UserFactory(), UserFactory()
    compiled = CompiledQueries()

    assert compiled.rows(first.pk, with_agency(first.pk)) == [first]
    assert compiled.rows(second.pk, with_agency(second.pk)) == [second]


def test_a_query_that_matches_nothing_costs_no_round_trip():
    compiled = CompiledQueries()
    build = Builds(lambda: User.objects.filter(pk__in=[]))

    with CaptureQueriesContext(connection) as queries:
        assert compiled.rows("none", build) == []
        assert compiled.count("none", build) == 0
    assert len(queries) == 0


def test_count_is_compiled_once_and_read_afresh():
    agency = AgencyFactory()
    UserFactory.create_batch(3, agency=agency)
    compiled = CompiledQueries()
    build = Builds(lambda: User.objects.filter(agency=agency).values("pk"))

    assert compiled.count(agency.pk, build) == 3
    UserFactory(agency=agency)
    assert compiled.count(agency.pk, build) == 4
    assert build.calls == 1


def test_more_keys_than_max_entries_start_over():
    people = UserFactory.create_batch(3)
    compiled = CompiledQueries(max_entries=2)
    builds = [with_agency(p.pk) for p in people]

    for person, build in zip(people, builds, strict=True):
        assert compiled.rows(person.pk, build) == [person]
    assert compiled.rows(people[0].pk, builds[0]) == [people[0]]

    assert builds[0].calls == 2, "the first key was dropped when the third came"


@pytest.mark.parametrize(
    "make",
    [
        lambda: User.objects.values("pk"),
        lambda: User.objects.prefetch_related("groups"),
    ],
    ids=["values", "prefetch_related"],
)
def test_what_rows_cannot_keep_is_refused(make):
    with pytest.raises(ValueError):
        CompiledQueries().rows("k", make)


def test_a_compiled_list_pages_like_the_queryset():
    agency = AgencyFactory()
    UserFactory.create_batch(7, agency=agency)
    queryset = User.objects.filter(agency=agency).order_by("pk")
    compiled = CompiledQueries()
    pages = Paginator(CompiledList(compiled, agency.pk, lambda: queryset), 3)
    expected = Paginator(queryset, 3)

    assert (pages.count, pages.num_pages) == (7, 3)
    for number in (1, 2, 3):
        assert list(pages.page(number)) == list(expected.page(number))


def test_a_compiled_list_refuses_an_unordered_queryset():
    compiled_list = CompiledList(CompiledQueries(), "k", lambda: User.objects.order_by())

    with pytest.raises(ValueError, match="unordered"):
        compiled_list[0:3]


@pytest.mark.django_db(transaction=True)
def test_each_thread_compiles_for_its_own_connection():
    """A compiler belongs to the connection it was made for, and Django's
    connections to the thread that opened them: another thread must get its
    own, not "DatabaseWrapper objects created in a thread can only be used in
    that same thread"."""
    person = UserFactory()
    compiled = CompiledQueries()
    compiled.rows(person.pk, with_agency(person.pk))
    found, errors = [], []

    def other_thread():
        try:
            found.extend(compiled.rows(person.pk, with_agency(person.pk)))
        except Exception as exc:  # noqa: BLE001 - reported to the main thread below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert errors == []
    assert found == [person]
