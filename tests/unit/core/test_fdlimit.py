"""a2actl.core.fdlimit: the soft open-file limit raised as far as the work needs, and what fits when
the hard limit is too low. Each case runs in a child process (the limit is process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is Unix")

_CHILD = """
import json, resource, sys
from a2actl.core.fdlimit import fit_open_files
soft, hard = (int(x) for x in sys.argv[1:3])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
fitted, limit = fit_open_files(int(sys.argv[3]), per_item=int(sys.argv[4]))
print(json.dumps([fitted, limit, resource.getrlimit(resource.RLIMIT_NOFILE)[0]]))
"""


def _fit(soft: int, hard: int, wanted: int, per_item: int = 1) -> list[int | None]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(soft), str(hard), str(wanted), str(per_item)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_the_soft_limit_is_raised_to_what_the_work_needs() -> None:
    fitted, limit, soft = _fit(256, 4096, 1000)
    assert (fitted, limit) == (1000, None) and 1000 < soft <= 4096


def test_what_fits_under_a_hard_limit_that_is_too_low() -> None:
    fitted, limit, soft = _fit(256, 256, 1000, per_item=2)
    assert limit == 256 and soft == 256
    assert fitted is not None and 1 <= fitted < (256 - 64) // 2 + 1


def test_enough_already_changes_nothing() -> None:
    assert _fit(2048, 2048, 10) == [10, None, 2048]
