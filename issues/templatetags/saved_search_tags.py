"""The saved searches box of the issue list, as a tag: the list view stays as it is."""

from django import template

from issues import selectors
from issues.forms import IssueFilterForm, SavedSearchForm, normalized_query

register = template.Library()


@register.inclusion_tag("issues/partials/saved_searches.html", takes_context=True)
def saved_searches_box(context) -> dict:
    request = context["request"]
    # The list's filter form has read and checked the same query already.
    form = context.get("form")
    return {
        "csrf_token": context.get("csrf_token"),
        "request": request,
        "searches": selectors.saved_searches(request.user),
        "query": normalized_query(
            request.GET, form=form if isinstance(form, IssueFilterForm) else None
        ),
        "save_form": SavedSearchForm(auto_id="saved-search-%s"),
    }
