"""TLS contexts from ``--cacert``/``--cert``/``--key``/``--insecure``, given as paths or as content
read ahead: ``build_ssl_context``, the one context a2actl's TLS clients share (``https://`` and
``wss://`` in ``a2actl.transport``; ``amqps://`` in ``a2actl.dlq.store.amqp``, which the server side
imports and which therefore may not reach ``a2actl.transport``).

One ``ssl.SSLContext`` per process and option set, built on first use: loading the CA store costs
~50 ms of CPU, which a probe would otherwise pay on every sample and plain-HTTP runs never need. A
file replaced on disk (new mtime or size) is loaded again.

A FIFO or ``<(vault read …)`` can be read once, and ``ssl`` blocks in ``open`` on one nobody writes
(before any ``--max-time``), so the CLI reads such files once under the deadline
(``Settings.tls_data``) and the context is built from the bytes: a CA bundle through ``cadata``; a
client certificate and key, which ``ssl`` loads only from paths, through files in a private
directory (mode 0700, the files 0600) that are removed as soon as they are loaded. ``push
listen --tls-cert/--tls-key`` (a server certificate) goes the same way (``loadable``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import ssl
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import UnreachableError, UsageError

if TYPE_CHECKING:
    from a2actl.core.config import Settings


@contextlib.contextmanager
def _private_copies(blobs: Mapping[str, bytes]) -> Iterator[dict[str, str]]:
    """Paths of private copies (a new 0700 directory, files 0600) of ``blobs`` (name → content),
    removed with the directory on exit. Raises ``OSError``."""
    folder = tempfile.mkdtemp(prefix="a2actl-tls-")
    try:
        paths = {}
        for i, (name, data) in enumerate(blobs.items()):
            path = os.path.join(folder, f"{i}.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            paths[name] = path
        yield paths
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def loadable(paths: Iterable[str | None], data: Mapping[str, bytes]) -> Iterator[dict[str, str]]:
    """A path ``ssl`` (or a server that takes file names, uvicorn) can load each of ``paths`` from,
    by path: the path itself, or for one in ``data`` (content read ahead: a FIFO reads once) a
    private copy (0600 in a new 0700 directory) removed on exit, so load within the block. A path
    named twice (certificate and key in one PEM) gets one copy. Raises ``OSError`` when a copy
    cannot be made."""
    named = [p for p in paths if p is not None]
    ahead = {p: data[p] for p in named if p in data}
    if not ahead:
        yield {p: p for p in named}
        return
    with _private_copies(ahead) as copies:
        yield {p: copies.get(p, p) for p in named}


class TLSFileError(ValueError):
    """A TLS file that cannot be used: ``option`` (``--cacert``, ``--cert``, ``--key``) named
    ``path``, which does not load for ``reason`` (one line, never the file's content); ``hint``: what
    to do, when there is more to say than the generic hint."""

    def __init__(self, option: str, path: str, reason: str, hint: str | None = None) -> None:
        super().__init__(f"{option} {path}: {reason}")
        self.option, self.path, self.reason, self.hint = option, path, reason, hint


class _Encrypted(Exception):
    """OpenSSL asked for a pass phrase: the key is encrypted."""


def _no_pass_phrase() -> bytes:
    """The ``password`` callback of ``load_cert_chain``: without it OpenSSL prompts for the pass
    phrase on the terminal and waits there, before any ``--max-time`` (without a terminal it printed
    the prompt and failed with "[Errno 22] Invalid argument")."""
    raise _Encrypted


def _why(exc: BaseException) -> str:
    """``exc`` in a few words: an OS error's text (``No such file or directory``), an SSL error's
    reason without OpenSSL's decorations (``[X509: …]``, ``(_ssl.c:4154)``)."""
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError):
        return exc.strerror or str(exc) or type(exc).__name__
    text = str(exc.args[1]) if isinstance(exc, ssl.SSLError) and len(exc.args) > 1 else str(exc)
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    text = re.sub(r"\s*\(_ssl\.c:\d+\)$", "", text)
    return text or type(exc).__name__


def _readable(option: str, path: str, where: str) -> None:
    """Raise ``TLSFileError`` naming ``option`` and ``path`` when ``where`` (the path to load it
    from) cannot be opened for reading: ``load_cert_chain``'s own error does not say which file."""
    try:
        with open(where, "rb"):
            pass
    except OSError as exc:
        raise TLSFileError(option, path, _why(exc)) from exc


def load_client_files(
    ctx: ssl.SSLContext, cert: str | None, key: str | None, data: Mapping[str, bytes]
) -> None:
    """``ctx.load_cert_chain(cert, key)``; a path in ``data`` (content read ahead: a FIFO) is loaded
    from a private copy removed at once (``loadable``). Raises ``TLSFileError`` naming the option and
    path: a file that cannot be read, an encrypted key (no pass phrase can be given: OpenSSL would
    prompt on the terminal and wait), a key that is not the certificate's, a file that is not PEM;
    ``OSError`` when the copy cannot be made."""
    if cert is None:
        return
    with loadable((cert, key), data) as files:
        for option, path in (("--cert", cert), ("--key", key)):
            if path is not None:
                _readable(option, path, files[path])
        try:
            ctx.load_cert_chain(
                files[cert], files[key] if key is not None else None, password=_no_pass_phrase
            )
        except _Encrypted:
            option, path = ("--key", key) if key is not None else ("--cert", cert)
            raise TLSFileError(
                option,
                path,
                "the private key is encrypted (a pass phrase cannot be given)",
                hint=f"decrypt a copy: openssl pkey -in {path} -out KEY.pem (and keep it private)",
            ) from None
        except (OSError, ssl.SSLError) as exc:
            if key is None:
                raise TLSFileError(
                    "--cert",
                    cert,
                    f"no PEM certificate and private key in it ({_why(exc)})",
                    hint="pass the private key with --key FILE",
                ) from exc
            if "KEY_VALUES_MISMATCH" in str(exc):
                raise TLSFileError("--key", key, f"is not the private key of --cert {cert}") from exc
            raise TLSFileError(
                "--cert",
                cert,
                f"not a PEM certificate, or --key {key} not a PEM private key ({_why(exc)})",
                hint="check the --cert and --key files (PEM)",
            ) from exc


def client_context(
    cacert: str | None, cert: str | None, key: str | None, data: Mapping[str, bytes]
) -> ssl.SSLContext:
    """``ssl.create_default_context`` trusting ``cacert`` (else the system store) with the client
    certificate ``cert``/``key`` loaded; a path in ``data`` is taken from there (``cadata`` for the
    CA bundle: PEM text). Raises ``TLSFileError`` (a ``ValueError``) naming the option and path of a
    file that cannot be loaded, and ``OSError`` when a private copy cannot be made."""
    if cacert is None:
        ctx = ssl.create_default_context()
    else:
        try:
            if cacert in data:
                pem = data[cacert].decode("ascii", "ignore")  # ssl takes ASCII PEM text; comments may not be
                ctx = ssl.create_default_context(cadata=pem)
            else:
                ctx = ssl.create_default_context(cafile=cacert)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise TLSFileError("--cacert", cacert, _why(exc)) from exc
    load_client_files(ctx, cert, key, data)
    return ctx


def build_ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context for ``--cacert``, ``--cert``/``--key`` and ``--insecure``, built once per process
    and option set (see ``tls_context``). Costs ~50 ms of CPU the first time (the CA store).

    Raises ``UsageError`` (exit 2) when a certificate or key file cannot be loaded.
    """
    return tls_context(settings.cacert, settings.cert, settings.key, settings.insecure, settings.tls_data)


def _stamp(path: str | None) -> tuple[int, int] | None:
    """(mtime_ns, size) of a TLS file, so a file replaced in a long-lived process is loaded again."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st else None


def tls_context(
    cacert: str | None,
    cert: str | None,
    key: str | None,
    insecure: bool,
    data: tuple[tuple[str, bytes], ...] = (),
) -> ssl.SSLContext:
    """The shared ``ssl.SSLContext`` for one TLS option set (paths of the CA bundle, client certificate
    and key; ``insecure``: no verification, no hostname check; ``data``: ``(path, content)`` of those
    read ahead, a FIFO or ``<(cmd)``: ``Settings.tls_data``). Every client of the process with the
    same options gets the same context, as httpx shares one per client: building it loads the CA
    store (~50 ms of CPU).

    Raises ``UsageError`` (exit 2) when a certificate or key file cannot be loaded.
    """
    ahead = {p for p, _ in data}  # read once: their stamps (a FIFO's mtime) say nothing
    stamps = tuple(None if p in ahead else _stamp(p) for p in (cacert, cert, key))
    return _tls_context(cacert, cert, key, insecure, stamps, data)


@functools.lru_cache(maxsize=8)
def _tls_context(
    cacert: str | None,
    cert: str | None,
    key: str | None,
    insecure: bool,
    _stamps: tuple[Any, ...],
    data: tuple[tuple[str, bytes], ...],
) -> ssl.SSLContext:
    try:
        ctx = client_context(cacert, cert, key, dict(data))
    except TLSFileError as exc:
        raise UsageError(
            f"cannot load TLS files: {exc}", hint=exc.hint or f"check the {exc.option} path and format"
        ) from exc
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise UsageError(
            f"cannot load TLS files: {exc}", hint="check --cacert/--cert/--key paths and formats"
        ) from exc
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_failed(url: str, detail: object, *, verify: bool, scheme: str = "https") -> UnreachableError:
    """A failed TLS handshake with ``url`` (exit 3); ``verify``: the certificate did not verify
    (``detail``: OpenSSL's verify message, which picks the hint: ``--cacert`` only for an issuer
    not trusted); ``scheme``: the TLS scheme of ``url`` (``https``, ``amqps``), for the hint. The
    same words for ``https://``, ``wss://`` and ``amqps://``."""
    return UnreachableError(
        f"TLS handshake with {url} failed: {detail}",
        hint=_verify_hint(str(detail))
        if verify
        else f"is this an {scheme} URL on an {scheme[:-1]} port, or is a client certificate needed (--cert/--key)?",
    )


def _verify_hint(reason: str) -> str:
    """What to do about a certificate that did not verify for ``reason`` (OpenSSL's verify message):
    another CA helps only when the issuer was not trusted; an expired certificate or one for another
    host fails whatever ``--cacert`` says."""
    text = reason.lower()
    if "expired" in text or "not yet valid" in text:
        return (
            "the agent's certificate is outside its validity dates (or this machine's clock is wrong):"
            " renew it, or --insecure to skip checks"
        )
    if "mismatch" in text:
        return (
            "the agent's certificate does not name this host: use a host name it lists,"
            " or --insecure to skip checks"
        )
    return "pass the CA with --cacert FILE (or --insecure to skip checks)"


__all__ = [
    "TLSFileError",
    "build_ssl_context",
    "client_context",
    "load_client_files",
    "loadable",
    "tls_context",
    "tls_failed",
]
