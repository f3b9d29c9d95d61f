"""a2actl.core.junit: text XML 1.0 cannot hold, escaped in every attribute, text and tail."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from a2actl.core.junit import junit_text, xml_text


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("a\x00b\x1b[2J", "a\\x00b\\x1b[2J"),
        ("x\ud800y\udfff", "x\\ud800y\\udfff"),
        ("\ufffe\uffff\x7f", "\\ufffe\\uffff\x7f"),  # DEL is a legal XML 1.0 character
        ("tab\tlf\ncr\r é \U0001f600", "tab\tlf\ncr\r é \U0001f600"),
    ],
)
def test_xml_text(text: str, written: str) -> None:
    assert xml_text(text) == written
    assert xml_text(written) == written


def test_junit_text_escapes_the_whole_tree() -> None:
    root = ET.Element("testsuites", name="s\x1b")
    case = ET.SubElement(root, "testcase", name="c\ud800")
    case.text = "t\x00"
    case.tail = "u\x01"
    out = junit_text(root)
    assert out.startswith("<?xml")
    back = ET.fromstring(out.encode("utf-8"))
    assert back.attrib["name"] == "s\\x1b"
    assert (back[0].attrib["name"], back[0].text, back[0].tail) == ("c\\ud800", "t\\x00", "u\\x01")
