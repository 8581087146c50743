"""The commands of docs/operations.md, so the tests run what the operator reads.

Each section (``## Title``) of the guide may hold ``sh`` blocks; :func:`commands` gives
their command lines, continuation lines joined and comments dropped. A test that covers
a section runs exactly those lines (and :func:`tests.test_operations_doc` checks that
every section's commands are claimed by one), so the guide cannot drift from what works.
"""

from __future__ import annotations

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "operations.md"

_FENCE = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def sections() -> dict[str, str]:
    """Each ``## `` section's text by its title."""
    text = GUIDE.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def commands(title: str) -> list[str]:
    """The command lines of the ``sh`` blocks in the section called ``title``."""
    body = sections()[title]
    lines: list[str] = []
    for block in _FENCE.findall(body):
        pending = ""
        for raw in block.splitlines():
            line = raw.split(" # ", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
            if not line and not pending:
                continue
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            lines.append((pending + line.strip()).strip())
            pending = ""
    return [line for line in lines if line]
