"""TLS contexts from ``--cacert``/``--cert``/``--key`` given as paths or as content read ahead.

A FIFO or ``<(vault read …)`` can be read once, and ``ssl`` blocks in ``open`` on one nobody writes
(before any ``--max-time``), so the CLI reads such files once under the deadline
(``Settings.tls_data``) and the context is built from the bytes: a CA bundle through ``cadata``; a
client certificate and key, which ``ssl`` loads only from paths, through files in a private
directory (mode 0700, the files 0600) that are removed as soon as they are loaded. ``push
listen --tls-cert/--tls-key`` (a server certificate) goes the same way (``loadable``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterable, Iterator, Mapping


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


def load_client_files(
    ctx: ssl.SSLContext, cert: str | None, key: str | None, data: Mapping[str, bytes]
) -> None:
    """``ctx.load_cert_chain(cert, key)``; a path in ``data`` (content read ahead: a FIFO) is loaded
    from a private copy removed at once (``loadable``). Raises what ``load_cert_chain`` raises
    (``OSError``, ``ssl.SSLError``) and ``OSError`` when the copy cannot be made."""
    if cert is None:
        return
    with loadable((cert, key), data) as files:
        ctx.load_cert_chain(files[cert], files[key] if key is not None else None)


def client_context(
    cacert: str | None, cert: str | None, key: str | None, data: Mapping[str, bytes]
) -> ssl.SSLContext:
    """``ssl.create_default_context`` trusting ``cacert`` (else the system store) with the client
    certificate ``cert``/``key`` loaded; a path in ``data`` is taken from there (``cadata`` for the
    CA bundle: PEM text). Raises ``OSError``, ``ssl.SSLError`` or ``ValueError`` (no certificate in
    the CA content) when a file cannot be loaded."""
    if cacert is not None and cacert in data:
        pem = data[cacert].decode("ascii", "ignore")  # ssl takes ASCII PEM text; comments may not be
        ctx = ssl.create_default_context(cadata=pem)
    else:
        ctx = ssl.create_default_context(cafile=cacert) if cacert else ssl.create_default_context()
    load_client_files(ctx, cert, key, data)
    return ctx


__all__ = ["client_context", "load_client_files", "loadable"]
