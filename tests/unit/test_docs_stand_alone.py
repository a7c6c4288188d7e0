"""The documents are about the software and stand alone in a clone of the repository.

Every Markdown file a user reads (README, CHANGELOG, docs/, results/) is
searched for what would point outside the repository or speak of how the work
was organised instead of what the software does. Each pattern is a phrase such
text has used; a document that needs one of these words for the software
itself should rephrase.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md"),
                    *(ROOT / "results").rglob("*.md")])
FORBIDDEN = {
    r"\.\./shared\b": "a path outside the repository",
    r"\bDESIGN\.md\b": "a design note that a clone does not have",
    r"\bissue #?\d+\b": "an issue number",
    r"\bitem \d+ of\b": "an item of a work order",
    r"\b(?:sub)?agents?\b": "who did the work",
    r"\bsessions?\b": "how the work was organised",
    r"\b(?:was|were) (?:not )?lent\b": "which machine was or was not available",
}


def test_there_are_documents_to_check() -> None:
    assert ROOT / "README.md" in DOCUMENTS and len(DOCUMENTS) > 10


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_document_says_nothing_of_its_making_and_points_nowhere_outside(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [f"{why}: {match.group(0)!r}" for pattern, why in FORBIDDEN.items()
             for match in re.finditer(pattern, text, flags=re.IGNORECASE)]
    assert not found, f"{path.relative_to(ROOT)}: {found}"


@pytest.mark.parametrize("text", ["see ../shared/DESIGN.md", "as issue 11 asked", "no GPU was lent to this work",
                                  "item 6 of the list"])
def test_the_patterns_catch_what_they_are_for(text: str) -> None:
    assert any(re.search(pattern, text, flags=re.IGNORECASE) for pattern in FORBIDDEN)
