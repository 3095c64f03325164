"""core.templatetags.ui.section_head: a section's heading and its message after a change."""

from django.template import Context, Template
from django.utils import translation

TEMPLATE = Template('{% load ui %}{% section_head "attachments" _("Attachments") %}')


def test_the_heading_is_named_for_the_section_and_translated():
    with translation.override("ko"):
        html = TEMPLATE.render(Context({}))

    assert html == '<h2 id="attachments-heading" class="section-title">첨부 파일</h2>'


def test_after_a_change_the_message_follows_as_a_status_escaped():
    with translation.override("en"):
        html = TEMPLATE.render(Context({"flash": "Saved <b>now</b>"}))

    assert html == (
        '<h2 id="attachments-heading" class="section-title">Attachments</h2>'
        '<p class="flash flash--success" role="status">Saved &lt;b&gt;now&lt;/b&gt;</p>'
    )
