"""Whether a path lies on a kernel interface (procfs, sysfs, debugfs, …) rather than on a filesystem
of files: there a "file" a2actl would append to is a kernel setting (``/proc/sys/kernel/hostname``,
``/sys/…``), and a write changes the machine, as root. Such files look regular to ``stat``, so a
check of the file type does not catch them."""

from __future__ import annotations

import os

#: Filesystem types (``/proc/self/mountinfo``) whose files are kernel interfaces, never data files.
KERNEL_FS = frozenset(
    {
        "proc",
        "sysfs",
        "debugfs",
        "tracefs",
        "securityfs",
        "cgroup",
        "cgroup2",
        "configfs",
        "bpf",
        "pstore",
        "efivarfs",
        "fusectl",
        "binfmt_misc",
        "selinuxfs",
        "mqueue",
        "nsfs",
    }
)

#: Where those filesystems are mounted on Linux: refused whatever the mount table says.
_KERNEL_DIRS = {"/proc": "proc", "/sys": "sysfs"}


def _unescape(field: str) -> str:
    """A mount point as ``/proc/self/mountinfo`` writes it (space, tab, newline and backslash as
    ``\\ooo`` octal escapes), unescaped."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mounts() -> list[tuple[str, str]]:
    """``(mount point, filesystem type)`` of every mount of this process' view (empty when the
    table cannot be read: not Linux, no procfs)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [mount for mount in map(_parse, lines) if mount is not None]


def _parse(line: str) -> tuple[str, str] | None:
    """``(mount point, filesystem type)`` of one ``mountinfo`` line (``ID PARENT MAJ:MIN ROOT
    MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS``), ``None`` for a line in no such form."""
    left, sep, right = line.partition(" - ")
    fields = left.split(" ")
    if not sep or len(fields) < 5 or not right:
        return None
    return _unescape(fields[4]), right.split(" ", 1)[0]


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def kernel_fs(path: str | os.PathLike[str]) -> str | None:
    """The type of the kernel interface filesystem ``path`` lies on (``"proc"``, ``"sysfs"``, …:
    ``KERNEL_FS``), with its symlinks resolved, else ``None``. The mount that holds a path is the
    one with the longest mount point above it (a bind mount of a procfs file elsewhere counts);
    anything under ``/proc`` or ``/sys`` counts too (as ``proc``, ``sysfs``), whatever is mounted
    there and whether or not the mount table can be read. Never raises."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return None
    best: tuple[int, str] | None = None
    for point, fstype in _mounts():
        if _under(real, point) and (best is None or len(point) >= best[0]):
            best = (len(point), fstype)
    if best is not None and best[1] in KERNEL_FS:
        return best[1]
    for top, fstype in _KERNEL_DIRS.items():  # a tmpfs on /sys/fs/cgroup is no place for data either
        if _under(real, top):
            return fstype
    return None
