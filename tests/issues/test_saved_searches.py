"""Saved searches (저장한 검색, issue 9 item 6): save the list's filters under a name,
list them beside the list, rename and delete them; only one's own."""

import pytest
from django.urls import reverse

from issues import services
from issues.forms import normalized_query
from issues.models import SavedSearch

pytestmark = pytest.mark.django_db

CREATE = reverse("issues:saved_search_create")


def _update_url(search) -> str:
    return reverse("issues:saved_search_update", args=[search.pk])


def _delete_url(search) -> str:
    return reverse("issues:saved_search_delete", args=[search.pk])


def test_only_known_filters_are_kept_and_never_the_page():
    from django.http import QueryDict

    query = QueryDict(
        "page=3&bogus=1&q=+인공지능+&priority=&overdue=1&status=nope&following=on&sort=updated"
    )

    assert normalized_query(query) == "q=%EC%9D%B8%EA%B3%B5%EC%A7%80%EB%8A%A5&overdue=1&following=1"
    assert normalized_query(QueryDict("sort=due&mine=false")) == "sort=due"


def test_saving_the_current_filters_without_javascript(client, alice):
    client.force_login(alice)

    response = client.post(CREATE, {"name": "우리 기관 지연", "query": "overdue=1&page=2&x=y"})

    assert response.status_code == 302
    assert response["Location"] == "/issues/?overdue=1"
    search = SavedSearch.objects.get(user=alice)
    assert (search.name, search.query_string, search.include_in_digest) == (
        "우리 기관 지연",
        "overdue=1",
        False,
    )


def test_with_htmx_the_filters_as_they_are_now_are_saved_and_the_box_comes_back(client, alice):
    client.force_login(alice)

    response = client.post(
        CREATE,
        {
            "name": "진행 중",
            "query": "overdue=1",
            "q": "",
            "status": "in_progress",
            "sort": "updated",
            "include_in_digest": "on",
        },
        headers={"HX-Request": "true"},
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="saved-searches"')
    assert 'href="/issues/?status=in_progress"' in body
    search = SavedSearch.objects.get(user=alice)
    assert search.include_in_digest


def test_the_list_shows_ones_saved_searches_beside_it_and_they_open(client, alice, bob):
    services.saved_search_create(user=alice, name="긴급", query_string="priority=urgent")
    services.saved_search_create(user=bob, name="밥의 검색", query_string="status=open")
    services.issue_create(
        actor=alice, title="긴급 현안", lead_agency=alice.agency, priority="urgent"
    )
    services.issue_create(actor=alice, title="보통 현안", lead_agency=alice.agency)
    client.force_login(alice)

    body = client.get(reverse("issues:list"), {"status": "open"}).content.decode()

    assert "저장한 검색" in body
    assert 'href="/issues/?priority=urgent">긴급</a>' in body
    assert "밥의 검색" not in body
    assert 'name="query" value="status=open"' in body
    opened = client.get("/issues/?priority=urgent")
    assert [i.title for i in opened.context["page"].object_list] == ["긴급 현안"]


def test_a_name_is_unique_per_person_and_the_refusal_is_a_message(client, alice, bob):
    services.saved_search_create(user=alice, name="긴급", query_string="priority=urgent")
    services.saved_search_create(user=bob, name="긴급", query_string="priority=urgent")
    client.force_login(alice)

    response = client.post(CREATE, {"name": "긴급", "query": ""}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "같은 이름" in response.content.decode()
    assert SavedSearch.objects.filter(user=alice).count() == 1


def test_rename_and_delete_ones_own(client, alice):
    search = services.saved_search_create(user=alice, name="긴급", query_string="priority=urgent")
    client.force_login(alice)

    client.post(_update_url(search), {"name": "긴급 현안", "include_in_digest": "on"})
    search.refresh_from_db()
    assert (search.name, search.include_in_digest, search.query_string) == (
        "긴급 현안",
        True,
        "priority=urgent",
    )
    response = client.post(
        _delete_url(search), {"query": "status=open"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert not SavedSearch.objects.exists()


def test_someone_elses_saved_search_is_a_404(client, alice, bob):
    search = services.saved_search_create(user=bob, name="밥의 검색", query_string="status=open")
    client.force_login(alice)

    assert client.post(_update_url(search), {"name": "탈취"}).status_code == 404
    assert client.post(_delete_url(search)).status_code == 404
    search.refresh_from_db()
    assert search.name == "밥의 검색"


def test_the_list_page_pays_one_query_for_the_box_however_many_searches(
    client, alice, django_assert_max_num_queries
):
    for n in range(20):
        services.saved_search_create(user=alice, name=f"검색 {n}", query_string=f"q={n}")
    client.force_login(alice)

    # The list's own 10 (tests/issues/test_issue_list.py) and the saved searches.
    with django_assert_max_num_queries(10):
        client.get(reverse("issues:list"))
