"""The top floor joins the apps, and so do its tests: the apps' fixtures, shared."""

from tests.issues.conftest import open_issue, restricted_issue  # noqa: F401
from tests.meetings.conftest import make_meeting, smtp_server  # noqa: F401
