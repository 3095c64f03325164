"""Password rules beyond Django's own."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def character_kinds(password: str) -> int:
    """How many of the three kinds — letters, digits, symbols — a password uses.

    Letters are any alphabet (Hangul counts); symbols are whatever is neither a
    letter, a digit nor white space. White space counts towards the length only.
    """
    has_letter = has_digit = has_symbol = False
    for char in password:
        if char.isalpha():
            has_letter = True
        elif char.isdecimal():
            has_digit = True
        elif not char.isspace():
            has_symbol = True
    return has_letter + has_digit + has_symbol


class CharacterKindsPasswordValidator:
    """KISA's password guideline, as the city's security review applies it.

    At least ``long_length`` characters using two kinds of letters, digits and
    symbols, or at least ``short_length`` using all three. A longer password
    may be simpler; a short one must be varied.
    """

    def __init__(self, long_length: int = 10, short_length: int = 8) -> None:
        self.long_length = long_length
        self.short_length = short_length

    def validate(self, password: str, user: object = None) -> None:
        kinds = character_kinds(password)
        if (kinds >= 2 and len(password) >= self.long_length) or (
            kinds >= 3 and len(password) >= self.short_length
        ):
            return
        raise ValidationError(self._rule(), code="password_too_simple")

    def get_help_text(self) -> str:
        return self._rule()

    def _rule(self) -> str:
        return _(
            "Use at least %(long)d characters mixing two kinds of letters, digits and symbols, "
            "or at least %(short)d characters mixing all three."
        ) % {"long": self.long_length, "short": self.short_length}
