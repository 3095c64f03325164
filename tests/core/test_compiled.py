"""core.compiled: querysets compiled once per key, run afresh every time."""

import threading

import pytest
from django.core.paginator import Paginator
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from agencies.models import Agency, Role, User
from core.compiled import CompiledList, CompiledQueries, prefetched
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


class Builds:
    """A build function that counts how often it is called."""

    def __init__(self, make):
        self.make, self.calls = make, 0

    def __call__(self, *values):
        self.calls += 1
        return self.make(*values)


def with_agency():
    return Builds(lambda pk: User.objects.select_related("agency").filter(pk=pk))


def test_rows_are_the_querysets_instances_with_their_related_objects():
    person = UserFactory()
    compiled = CompiledQueries()

    (loaded,) = compiled.rows("user", with_agency(), person.pk)

    assert loaded == person
    with CaptureQueriesContext(connection) as queries:
        assert loaded.agency.name_ko == person.agency.name_ko
    assert len(queries) == 0, "select_related was kept"


def test_a_values_list_gives_its_tuples_read_afresh():
    person = UserFactory(first_name="민준")
    compiled = CompiledQueries()
    build = Builds(
        lambda pk: User.objects.filter(pk=pk).values_list("pk", "first_name", "agency__name_ko")
    )

    assert compiled.rows("names", build, person.pk) == [(person.pk, "민준", person.agency.name_ko)]
    User.objects.filter(pk=person.pk).update(first_name="서연")
    assert compiled.rows("names", build, person.pk) == [(person.pk, "서연", person.agency.name_ko)]
    assert build.calls == 1


def test_a_key_is_built_and_compiled_once_then_only_run():
    person = UserFactory()
    compiled = CompiledQueries()
    build = with_agency()
    compiled.rows("user", build, person.pk)

    with CaptureQueriesContext(connection) as queries:
        compiled.rows("user", build, person.pk)
        compiled.rows("user", build, person.pk)

    assert build.calls == 1
    assert len(queries) == 2, "each call still runs the query"


def test_rows_are_read_afresh_on_every_call():
    person = UserFactory(first_name="민준")
    compiled = CompiledQueries()
    build = with_agency()
    compiled.rows("user", build, person.pk)

    User.objects.filter(pk=person.pk).update(first_name="서연")
    Agency.objects.filter(pk=person.agency_id).update(name_ko="새 이름")
    (again,) = compiled.rows("user", build, person.pk)

    assert (again.first_name, again.agency.name_ko) == ("서연", "새 이름")
    User.objects.filter(pk=person.pk).delete()
    assert compiled.rows("user", build, person.pk) == []


def test_one_shape_serves_every_value():
    first, second = UserFactory(), UserFactory()
    compiled = CompiledQueries()
    build = with_agency()

    assert compiled.rows("user", build, first.pk) == [first]
    assert compiled.rows("user", build, second.pk) == [second]
    assert build.calls == 1


def test_a_value_may_stand_in_several_places():
    agency = AgencyFactory()
    mine = UserFactory(agency=agency, role=Role.HEAD)
    UserFactory(agency=agency)
    compiled = CompiledQueries()
    build = Builds(lambda a: User.objects.filter(agency_id=a, role=Role.HEAD, agency__pk=a))

    assert compiled.rows("heads", build, agency.pk) == [mine]
    assert compiled.rows("heads", build, AgencyFactory().pk) == []


def test_strings_are_values_too():
    person = UserFactory(username="minjun")
    compiled = CompiledQueries()
    build = Builds(lambda name: User.objects.filter(username=name))

    assert compiled.rows("by name", build, "minjun") == [person]
    assert compiled.rows("by name", build, "nobody") == []


def test_a_value_the_query_changes_is_refused():
    """``icontains`` wraps the value in % and escapes it: the compiled SQL
    would keep the stand-in, so compiling it once is refused."""
    build = Builds(lambda name: User.objects.filter(username__icontains=name))

    with pytest.raises(ValueError, match="unchanged"):
        CompiledQueries().rows("search", build, "min")


def test_a_value_the_query_does_not_use_is_fine():
    """A reader of everything's id reaches no parameter of a list of everything."""
    people = UserFactory.create_batch(2)
    build = Builds(lambda pk: User.objects.filter(pk__in=[p.pk for p in people]).order_by("pk"))

    assert CompiledQueries().rows("all", build, 12345) == people


def test_a_value_written_into_the_sql_is_refused():
    build = Builds(lambda pk: User.objects.extra(where=[f"id = {pk}"]))  # noqa: S610

    with pytest.raises(ValueError, match="unchanged"):
        CompiledQueries().rows("extra", build, 1)


def test_an_id_no_column_could_hold_is_answered_as_django_would():
    """Django answers a lookup of a number past 64 bits without asking the
    database (SQLite would raise OverflowError): so does a compiled query."""
    person = UserFactory()
    compiled = CompiledQueries()
    build = with_agency()
    compiled.rows("user", build, person.pk)

    assert compiled.rows("user", build, 10**20) == []
    assert compiled.count("user", lambda pk: User.objects.filter(pk=pk), 10**20) == 0
    assert compiled.rows("user", build, person.pk) == [person]


@pytest.mark.parametrize("value", [None, True, 1.5])
def test_what_decides_the_sql_belongs_in_the_shape(value):
    with pytest.raises(TypeError, match="shape"):
        CompiledQueries().rows("k", lambda v: User.objects.filter(pk=v), value)


def test_a_query_that_matches_nothing_costs_no_round_trip():
    compiled = CompiledQueries()
    build = Builds(lambda pk: User.objects.filter(pk__in=[]).exclude(pk=pk))

    with CaptureQueriesContext(connection) as queries:
        assert compiled.rows("none", build, 1) == []
        assert compiled.count("none", build, 1) == 0
    assert len(queries) == 0


def test_count_is_compiled_once_and_read_afresh():
    agency = AgencyFactory()
    UserFactory.create_batch(3, agency=agency)
    compiled = CompiledQueries()
    build = Builds(lambda a: User.objects.filter(agency_id=a).values("pk"))

    assert compiled.count("staff", build, agency.pk) == 3
    UserFactory(agency=agency)
    assert compiled.count("staff", build, agency.pk) == 4
    assert compiled.count("staff", build, AgencyFactory().pk) == 0
    assert build.calls == 1


def test_more_shapes_than_max_entries_start_over():
    person = UserFactory()
    compiled = CompiledQueries(max_entries=2)
    builds = [with_agency() for _ in range(3)]

    for shape, build in enumerate(builds):
        assert compiled.rows(shape, build, person.pk) == [person]
    assert compiled.rows(0, builds[0], person.pk) == [person]

    assert builds[0].calls == 2, "the first shape was dropped when the third came"


@pytest.mark.parametrize(
    "make",
    [
        lambda: User.objects.values("pk"),
        lambda: User.objects.values_list("pk", flat=True),
        lambda: User.objects.values_list("pk", named=True),
        lambda: User.objects.prefetch_related("groups"),
    ],
    ids=["values", "flat values_list", "named values_list", "prefetch_related"],
)
def test_what_rows_cannot_keep_is_refused(make):
    with pytest.raises(ValueError):
        CompiledQueries().rows("k", lambda pk: make().filter(pk=pk), 1)


def test_a_compiled_list_pages_like_the_queryset():
    agency = AgencyFactory()
    UserFactory.create_batch(7, agency=agency)
    queryset = User.objects.filter(agency=agency).order_by("pk")
    compiled = CompiledQueries()
    build = Builds(lambda a: User.objects.filter(agency_id=a).order_by("pk"))
    pages = Paginator(CompiledList(compiled, "staff", build, agency.pk), 3)
    expected = Paginator(queryset, 3)

    assert (pages.count, pages.num_pages) == (7, 3)
    for number in (1, 2, 3):
        assert list(pages.page(number)) == list(expected.page(number))


@pytest.mark.parametrize("kept", [True, False], ids=["compiled", "built every time"])
def test_a_list_of_columns_pages_tuples_and_counts_without_their_joins(kept):
    agency = AgencyFactory()
    people = UserFactory.create_batch(4, agency=agency)
    compiled_list = CompiledList(
        CompiledQueries() if kept else None,
        "staff",
        lambda a: User.objects.filter(agency_id=a).order_by("pk"),
        agency.pk,
        columns=("pk", "agency__name_ko"),
    )

    with CaptureQueriesContext(connection) as queries:
        assert compiled_list.count() == 4
        assert compiled_list.count(at_most=2) == 2
    assert compiled_list[1:3] == [(p.pk, agency.name_ko) for p in people[1:3]]
    # The columns' join to the organization would make every count read it too.
    assert not any("JOIN" in q["sql"] for q in queries)


def test_a_compiled_list_counts_up_to_a_limit():
    agency = AgencyFactory()
    people = UserFactory.create_batch(5, agency=agency)
    compiled_list = CompiledList(
        CompiledQueries(),
        "staff",
        lambda a: User.objects.filter(agency_id=a).order_by("pk"),
        agency.pk,
    )

    assert compiled_list.count(at_most=3) == 3
    assert compiled_list.count() == 5
    assert compiled_list[0:2] == people[:2]


def test_a_compiled_list_refuses_an_unordered_queryset():
    compiled_list = CompiledList(CompiledQueries(), "k", lambda pk: User.objects.exclude(pk=pk), 1)

    with pytest.raises(ValueError, match="unordered"):
        compiled_list[0:3]


def test_prefetched_rows_stand_where_a_prefetch_would():
    agency, other = AgencyFactory(), AgencyFactory()
    members = UserFactory.create_batch(2, agency=agency)
    UserFactory(agency=other)
    loaded = Agency.objects.get(pk=agency.pk)

    prefetched(loaded, "users", members)

    with CaptureQueriesContext(connection) as queries:
        assert list(loaded.users.all()) == members
        assert all(member.agency is loaded for member in loaded.users.all())
    assert len(queries) == 0
    # Asked for more than .all(), it reads this organization's rows only.
    assert set(loaded.users.filter(is_active=True)) == set(members)


@pytest.mark.django_db(transaction=True)
def test_each_thread_compiles_for_its_own_connection():
    """A compiler belongs to the connection it was made for, and Django's
    connections to the thread that opened them: another thread must get its
    own, not "DatabaseWrapper objects created in a thread can only be used in
    that same thread"."""
    person = UserFactory()
    compiled = CompiledQueries()
    compiled.rows("user", with_agency(), person.pk)
    found, errors = [], []

    def other_thread():
        try:
            found.extend(compiled.rows("user", with_agency(), person.pk))
        except Exception as exc:  # noqa: BLE001 - reported to the main thread below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert errors == []
    assert found == [person]
