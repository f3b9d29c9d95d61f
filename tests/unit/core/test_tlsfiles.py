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

from a2actl.core.tlsfiles import TLSFileError, client_context, load_client_files


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
        def load_cert_chain(self, certfile: str, keyfile: str | None = None, password: Any = None) -> None:
            seen["modes"] = [stat.S_IMODE(os.stat(p).st_mode) for p in (certfile, keyfile) if p]
            seen["dir"] = stat.S_IMODE(os.stat(os.path.dirname(certfile)).st_mode)
            ssl.create_default_context().load_cert_chain(certfile, keyfile, password)

    data = {"/dev/fd/62": pems["cert"], "/dev/fd/63": pems["key"]}
    load_client_files(Recording(), "/dev/fd/62", "/dev/fd/63", data)  # type: ignore[arg-type]
    assert seen == {"modes": [0o600, 0o600], "dir": 0o700}
    assert list(tmp_path.iterdir()) == []


def test_a_key_that_does_not_load_leaves_no_copy(
    pems: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(TLSFileError):
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


def _encrypted(key_pem: bytes) -> bytes:
    """``key_pem`` (PKCS#8) encrypted with the pass phrase ``pw``."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_pem, None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )


def test_an_encrypted_key_is_refused_without_asking_for_a_pass_phrase(
    pems: dict[str, bytes], tmp_path: Path
) -> None:
    """OpenSSL prompted "Enter PEM pass phrase:" on the terminal and waited there (before any
    --max-time); without a terminal it printed the prompt twice and failed "[Errno 22] Invalid
    argument", naming no file. The key is refused at once, named."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(pems["cert"])
    key.write_bytes(_encrypted(pems["key"]))
    with pytest.raises(TLSFileError) as info:
        client_context(None, str(cert), str(key), {})
    assert (info.value.option, info.value.path) == ("--key", str(key))
    assert "encrypted" in info.value.reason and info.value.hint and "openssl pkey" in info.value.hint


@pytest.mark.parametrize(
    ("which", "option", "reason"),
    [
        ("cacert", "--cacert", "No such file or directory"),
        ("cert", "--cert", "No such file or directory"),
        ("key", "--key", "No such file or directory"),
        ("cacert-not-pem", "--cacert", "no certificate or crl found"),
        ("key-of-another", "--key", "is not the private key of --cert"),
        ("cert-without-key", "--cert", "no PEM certificate and private key in it"),
    ],
)
def test_a_file_that_does_not_load_is_named_with_its_option(
    pems: dict[str, bytes], tmp_path: Path, which: str, option: str, reason: str
) -> None:
    """The error said "cannot load TLS files: [Errno 2] No such file or directory" whichever of
    --cacert, --cert and --key it was."""
    import trustme

    files = {"ca": pems["ca"], "cert": pems["cert"], "key": pems["key"]}
    files["other_key"] = trustme.CA().issue_cert("x.example").private_key_pem.bytes()
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    ca, cert, key = str(tmp_path / "ca"), str(tmp_path / "cert"), str(tmp_path / "key")
    missing = str(tmp_path / "missing")
    args: dict[str, tuple[str, str | None, str | None]] = {
        "cacert": (missing, cert, key),
        "cert": (ca, missing, key),
        "key": (ca, cert, missing),
        "cacert-not-pem": (key, cert, key),
        "key-of-another": (ca, cert, str(tmp_path / "other_key")),
        "cert-without-key": (ca, cert, None),
    }
    with pytest.raises(TLSFileError) as info:
        client_context(*args[which], {})
    named = {"--cacert": args[which][0], "--cert": args[which][1], "--key": args[which][2]}[option]
    assert (info.value.option, info.value.path) == (option, named)
    assert reason in info.value.reason
