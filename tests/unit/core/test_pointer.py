"""``a2actl.core.pointer``: RFC 6901 JSON pointers."""

from __future__ import annotations

from a2actl.core.pointer import pointer_token, to_pointer


def test_tokens_escape_tilde_before_slash() -> None:
    assert pointer_token("a/b~c") == "a~1b~0c"
    assert pointer_token("~1") == "~01"  # not "~1" read back as "/"


def test_pointers_join_keys_and_indexes() -> None:
    assert to_pointer(["skills", 0, "id"]) == "/skills/0/id"
    assert to_pointer([]) == ""
    assert to_pointer([""]) == "/"
