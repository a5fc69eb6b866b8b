"""App code selects elements by what they mean to the app (ids, classes, names, data-* attributes);
data-testid is for the tests only. No browser needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"

# The one way app code may mention a test id: writing it into markup it builds,
# el(tag, {dataset: {testid: "..."}}). Anything else (a selector, a read) is a use by the app.
TESTID_WRITE = re.compile(r"\btestid:\s")
TESTID = re.compile(r"test[-_]?id", re.IGNORECASE)


def find_testid_uses(source: str) -> list[str]:
    """The lines of `source` that use a test id other than by writing it into markup."""
    return [line.strip() for line in source.splitlines() if TESTID.search(TESTID_WRITE.sub("", line))]


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ('el("li", { dataset: { testid: "gallery-item", imageId: id } })', False),
        ('$("[data-testid=job-state]").textContent = "idle";', True),
        ("root.querySelector('[data-testid=\"slot-pose\"]')", True),
        ("if (node.dataset.testid === 'base-slot') return;", True),
        ('node.getAttribute("data-testid")', True),
    ],
)
def test_testid_check_tells_writes_from_uses(line, flagged):
    assert bool(find_testid_uses(line)) is flagged


def test_app_code_does_not_select_by_testid():
    modules = sorted(FRONTEND.glob("*.js"))
    assert modules, f"no app modules in {FRONTEND}"
    uses = {p.name: found for p in modules if (found := find_testid_uses(p.read_text()))}
    assert not uses, f"app code uses data-testid (select by ids, classes, names or data-* instead): {uses}"
