"""``a2actl.core.tlsfiles``: TLS material read ahead (a FIFO) is loaded from memory, or from private
copies that are gone once loaded."""

from __future__ import annotations

import os
import ssl
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest

from a2actl.core.tlsfiles import client_context, load_client_files


@pytest.fixture
def pems(tmp_path: Path) -> dict[str, bytes]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("client.example")
    return {
        "ca": ca.cert_pem.bytes(),
        "cert": cert.cert_chain_pems[0].bytes(),
        "key": cert.private_key_pem.bytes(),
    }


def test_a_ca_read_ahead_is_trusted(pems: dict[str, bytes]) -> None:
    ctx = client_context("/dev/fd/63", None, None, {"/dev/fd/63": pems["ca"]})
    assert ctx.cert_store_stats()["x509_ca"] == 1


def test_a_ca_read_ahead_with_no_certificate_fails(pems: dict[str, bytes]) -> None:
    with pytest.raises((ssl.SSLError, ValueError)):
        client_context("/dev/fd/63", None, None, {"/dev/fd/63": b"not a certificate\n"})


def test_a_client_key_goes_through_a_private_copy_removed_at_once(
    pems: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ssl loads a certificate chain from paths only: the copies are 0600 in a 0700 directory, and
    none is left once loaded."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: dict[str, Any] = {}

    class Recording:
        def load_cert_chain(self, certfile: str, keyfile: str | None = None) -> None:
            seen["modes"] = [stat.S_IMODE(os.stat(p).st_mode) for p in (certfile, keyfile) if p]
            seen["dir"] = stat.S_IMODE(os.stat(os.path.dirname(certfile)).st_mode)
            ssl.create_default_context().load_cert_chain(certfile, keyfile)

    data = {"/dev/fd/62": pems["cert"], "/dev/fd/63": pems["key"]}
    load_client_files(Recording(), "/dev/fd/62", "/dev/fd/63", data)  # type: ignore[arg-type]
    assert seen == {"modes": [0o600, 0o600], "dir": 0o700}
    assert list(tmp_path.iterdir()) == []


def test_a_key_that_does_not_load_leaves_no_copy(
    pems: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ssl.SSLError):
        client_context(None, "/dev/fd/62", "/dev/fd/63", {"/dev/fd/62": pems["cert"], "/dev/fd/63": b"junk"})
    assert list(tmp_path.iterdir()) == []


def test_loadable_copies_only_what_was_read_ahead_once_per_path(
    pems: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``push listen --tls-cert P --tls-key P`` (one FIFO, a PEM holding both): one copy for both
    names; a regular file is loaded from its own path; nothing is left after the block."""
    from a2actl.core.tlsfiles import loadable

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with loadable(("/dev/fd/63", "/dev/fd/63", "/etc/regular.pem", None), {"/dev/fd/63": b"pem"}) as files:
        assert files["/etc/regular.pem"] == "/etc/regular.pem"
        copy = Path(files["/dev/fd/63"])
        assert copy.read_bytes() == b"pem" and stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert len(list((tmp_path / "tmp").rglob("*.pem"))) == 1
    assert list((tmp_path / "tmp").iterdir()) == []
