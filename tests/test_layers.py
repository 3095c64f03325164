"""Imports go only downward: gwangju_hub → meetings → issues → agencies → core.

STYLE.md's floors, checked on the source: a lower app never imports a higher
one (not even inside a function), and never loads a higher app's template
tags. Where a lower page shows something of a higher app, the higher app
registers it (issues/extensions.py, issues/timeline.py).
"""

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

FLOORS = ["core", "agencies", "issues", "meetings", "gwangju_hub"]
ROOT = Path(settings.BASE_DIR)


def _imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(FLOORS)


@pytest.mark.parametrize("app", FLOORS[:-1])
def test_an_app_imports_only_the_floors_below_it(app):
    below = set(FLOORS[: FLOORS.index(app) + 1])
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imported_apps(path) - below)
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and _imported_apps(path) - below
    }
    assert wrong == {}


def _tag_libraries(app: str) -> set[str]:
    return {path.stem for path in (ROOT / app / "templatetags").glob("*.py")} - {"__init__"}


@pytest.mark.parametrize("app", FLOORS[:-1])
def test_an_apps_templates_load_no_tag_library_of_a_higher_app(app):
    higher = set().union(*(_tag_libraries(a) for a in FLOORS[FLOORS.index(app) + 1 :]))
    load = re.compile(r"{%\s*load\s+([^%]+)%}")
    wrong = [
        str(path.relative_to(ROOT))
        for path in (ROOT / app).rglob("templates/**/*.html")
        for match in load.finditer(path.read_text(encoding="utf-8"))
        if higher & set(match.group(1).split())
    ]
    assert wrong == []
