"""``a2actl.core.kernelfs.kernel_fs``: which paths lie on a kernel interface (procfs, sysfs, …)."""

from __future__ import annotations

from pathlib import Path

import pytest

from a2actl.core import kernelfs


def test_the_longest_mount_point_above_a_path_decides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A procfs file bind-mounted elsewhere, or a procfs mounted at a host path (a container's
    ``/host/proc``), counts; a mount point with a space comes escaped in the table; a filesystem of
    files mounted inside a kernel one does not, except under ``/proc`` and ``/sys`` themselves."""
    lines = [
        r"1 0 8:1 / / rw - ext4 /dev/sda1 rw",
        r"2 1 0:5 / /proc rw - proc proc rw",
        rf"3 1 0:5 /sys/kernel/hostname {tmp_path}/bound rw - proc proc rw",
        rf"4 1 0:6 / {tmp_path}/host\040proc rw shared:1 - proc proc rw",
        rf"5 4 0:7 / {tmp_path}/host\040proc/data rw - tmpfs tmpfs rw",
        r"6 1 0:8 / /sys/fs/cgroup rw - tmpfs tmpfs rw",
    ]
    monkeypatch.setattr(kernelfs, "_mounts", lambda: [kernelfs._parse(line) for line in lines])
    assert kernelfs.kernel_fs(tmp_path / "bound") == "proc"
    assert kernelfs.kernel_fs(tmp_path / "host proc" / "sys" / "x") == "proc"
    assert kernelfs.kernel_fs(tmp_path / "host proc" / "data" / "j.jsonl") is None
    assert kernelfs.kernel_fs(tmp_path / "host procx") is None
    assert kernelfs.kernel_fs("/sys/fs/cgroup/j.jsonl") == "sysfs"
    assert kernelfs.kernel_fs(tmp_path / "j.jsonl") is None
    (tmp_path / "link").symlink_to("/proc/self/status")
    assert kernelfs.kernel_fs(tmp_path / "link") == "proc"


def test_without_a_mount_table_proc_and_sys_still_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernelfs, "_mounts", list)
    assert kernelfs.kernel_fs("/proc/sys/kernel/hostname") == "proc"
    assert kernelfs.kernel_fs("/sys/kernel/profiling") == "sysfs"
    assert kernelfs.kernel_fs("/process/x") is None
