"""Passwords follow KISA's guideline (issue 8, item 5)."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import translation

from agencies.demo import DEMO_PASSWORD
from agencies.validators import CharacterKindsPasswordValidator

RULE_KO = (
    "문자·숫자·특수문자 중 두 종류 이상을 섞어 10자 이상, 또는 세 종류를 모두 섞어 8자 이상으로 "
    "정하세요."
)
RULE_EN = (
    "Use at least 10 characters mixing two kinds of letters, digits and symbols, "
    "or at least 8 characters mixing all three."
)


@pytest.mark.parametrize(
    ("password", "valid"),
    [
        # two kinds need 10 characters
        ("abcdefghi1", True),
        ("abcdefgh1", False),
        ("abcdefghi!", True),
        ("123456789!", True),
        # three kinds need 8
        ("abcde1!x", True),
        ("abcd1!x", False),
        # one kind is never enough, however long
        ("abcdefghijklmnopqrst", False),
        ("12345678901234567890", False),
        ("!@#$%^&*()!@#$%^&*()", False),
        # upper and lower case letters are one kind
        ("ABCDEfghij", False),
        # Hangul letters are letters
        ("광주광역시청공공기관1", True),
        ("광주광역시청공공기관", False),
        # white space counts in the length, not as a kind
        ("abcd efgh1", True),
        ("abcd efghi", False),
        # the demo data's password
        (DEMO_PASSWORD, True),
        ("", False),
    ],
)
def test_the_rule(password, valid):
    validator = CharacterKindsPasswordValidator()
    if valid:
        validator.validate(password)
    else:
        with pytest.raises(ValidationError) as error:
            validator.validate(password)
        assert error.value.code == "password_too_simple"


def test_the_message_is_korean_and_english():
    validator = CharacterKindsPasswordValidator()
    with pytest.raises(ValidationError) as korean:
        validator.validate("short1")
    with translation.override("en"), pytest.raises(ValidationError) as english:
        validator.validate("short1")

    assert korean.value.messages == [RULE_KO]
    assert english.value.messages == [RULE_EN]
    with translation.override("en"):
        assert validator.get_help_text() == RULE_EN


def test_the_settings_apply_it_with_djangos_other_checks(settings):
    names = [entry["NAME"].rsplit(".", 1)[1] for entry in settings.AUTH_PASSWORD_VALIDATORS]

    assert names == [
        "CharacterKindsPasswordValidator",
        "UserAttributeSimilarityValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    validate_password(DEMO_PASSWORD)
    with pytest.raises(ValidationError):
        validate_password("1q2w3e4r5t")  # common, though two kinds and 10 long
