"""LICENSE, CITATION.cff and CHANGELOG.md agree with the package they describe."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

import smoothcert

ROOT = Path(__file__).resolve().parents[2]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None


def test_license_is_mit_in_every_place_that_says_so() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 The smoothcert authors\n")
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["license"] == "MIT"
    if tomllib is not None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
        assert project["version"] == smoothcert.__version__


def test_citation_describes_this_version_and_cites_the_method_papers() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == smoothcert.__version__
    assert {"message", "title", "authors"} <= set(cff)
    for reference in cff["references"]:  # CFF 1.2.0 requires type, title and authors of each reference
        assert {"type", "title", "authors"} <= set(reference) and reference["authors"], reference["title"]
    years = {ref["authors"][0]["family-names"]: ref["year"] for ref in cff["references"]}
    assert {"Cohen": 2019, "Salman": 2019, "Jeong": 2020, "Zhai": 2020, "Li": 2019}.items() <= years.items()


def test_changelog_keeps_an_unreleased_section_first() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[0] == "## [Unreleased]"
    assert "keepachangelog.com" in text
