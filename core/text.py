"""Text checks shared by the request middleware and the form mixin."""

from __future__ import annotations

import re

# C0 and C1 control characters and DEL (Unicode category Cc). Format
# characters (Cf: zero-width joiner, right-to-left marks) are left alone: they
# occur in real Korean and English text and PostgreSQL stores them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Multi-line text may hold tabs and line breaks; nothing else below U+0020.
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(text: str, *, multiline: bool = False) -> bool:
    """Whether ``text`` holds a control character (tab, CR and LF allowed if ``multiline``)."""
    return bool((_CONTROL_EXCEPT_LINES if multiline else _CONTROL).search(text))


def strip_control_characters(text: str, *, multiline: bool = False) -> str:
    """``text`` without its control characters (keeping tab, CR and LF if ``multiline``)."""
    return (_CONTROL_EXCEPT_LINES if multiline else _CONTROL).sub("", text)
