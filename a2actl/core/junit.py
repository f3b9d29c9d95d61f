"""JUnit XML text that always parses, whatever a remote party wrote into it.

``xml.etree.ElementTree`` (and ``xml.sax.saxutils.escape``) escape ``&``, ``<``, ``>`` and quotes
but write every other character as it is, and XML 1.0 has no form at all for some (§2.2 ``Char``):
C0 control characters but tab, LF and CR; lone surrogates (no UTF-8 form either); U+FFFE and
U+FFFF. Not even a character reference (``&#27;``) is allowed for them, so one such character in an
agent's error text or name made the whole JUnit file unreadable to CI. They are written here as
their Python escapes (``\\x1b``, ``\\ud800``, ``\\ufffe``), which a reader of the report recognises.
Used by ``smoke run --junit`` and ``fleet probe``/``fleet report --junit``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

__all__ = ["junit_text", "xml_text"]

#: Characters XML 1.0 cannot hold (§2.2 Char): C0 controls but tab, LF and CR; lone surrogates;
#: U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape", "backslashreplace").decode("ascii")


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold written as its escape (``"\\x1b"`` → the
    four characters ``\\x1b``; ``"\\ud800"`` → ``\\ud800``); every other character unchanged (tab,
    LF and CR included), so applying it twice changes nothing more."""
    return _NOT_XML.sub(_escape, text)


def junit_text(root: ET.Element) -> str:
    """The document ``root`` heads, as ``str`` with an XML declaration (``ET.tostring`` with
    ``encoding="unicode"``), after every attribute value, text and tail of the tree has been through
    ``xml_text``: whatever went into the tree, the result encodes to UTF-8 and parses. Changes the
    tree in place. Raises nothing for any text."""
    import xml.etree.ElementTree as ET

    for el in root.iter():
        el.attrib = {k: xml_text(v) for k, v in el.attrib.items()}
        if el.text:
            el.text = xml_text(el.text)
        if el.tail:
            el.tail = xml_text(el.tail)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
