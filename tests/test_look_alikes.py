"""Look-alike input (L11, attack 9's notes): an address typed in full-width letters is the
same account as its plain spelling, and a name cannot stack accents into a tower."""

from __future__ import annotations

import secrets

import pytest
from conftest import text_of
from flows import COMPLETE, LOGIN, PASSWORD, PROFILE, START, UPDATE_PROFILE, data, password_set, register


def full_width(text: str) -> str:
    """The same ASCII text in full-width forms (U+FF01-U+FF5E), as an IME may type it."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


async def test_a_full_width_local_part_is_the_same_account(client, mailbox):
    plain = f"foo{secrets.token_hex(4)}@example.com"
    registered = await register(client, mailbox, plain)
    local, _, domain = plain.partition("@")
    look_alike = f"{full_width(local)}@{domain}"

    # A new registration for the look-alike is the existing account's "already" notice.
    assert (await data(client, START, {"email": look_alike}))["__typename"] == "RegistrationStarted"
    notice = await mailbox.wait_for(plain, count=2)
    assert "already" in text_of(notice).lower(), text_of(notice)
    assert not mailbox.received(look_alike)

    signed_in = await data(client, LOGIN, {"email": look_alike, "password": PASSWORD})
    assert signed_in["__typename"] == "AuthPayload", signed_in
    assert signed_in["user"]["id"] == registered["user"]["id"]
    assert signed_in["user"]["email"] == plain


TOWER = "Z" + "\u0301" * 99


async def test_a_tower_of_combining_marks_is_refused_as_a_name(client, mailbox):
    token = await password_set(client, mailbox, f"tower{secrets.token_hex(4)}@example.com")
    result = await data(client, COMPLETE, {"token": token, "profile": {**PROFILE, "firstName": TOWER}})
    assert result["__typename"] == "InvalidInput", result
    assert [field["field"] for field in result["fields"]] == ["firstName"], result

    access = (await register(client, mailbox))["accessToken"]
    for name in (TOWER, "Ada" + "\u0334" * 4):
        result = await data(client, UPDATE_PROFILE, {"input": {"lastName": name}}, access)
        assert result["__typename"] == "InvalidInput", result
        assert "accents" in result["fields"][0]["message"], result


@pytest.mark.parametrize(
    "name",
    [
        "Nguye\u0302\u0303n",  # Vietnamese, decomposed: two marks on one letter
        "שָׁלוֹם",  # Hebrew with points
        "हिन्दी",  # Devanagari vowel signs and virama
        "A\u0308\u0304\u0301",  # three marks: the most a letter may carry
    ],
)
async def test_names_with_a_few_marks_per_letter_are_kept(client, mailbox, name):
    access = (await register(client, mailbox))["accessToken"]
    result = await data(client, UPDATE_PROFILE, {"input": {"lastName": name}}, access)
    assert result["__typename"] == "ProfileUpdated", result
