"""The API reference builds from the docstrings (``make docs``): every public module, no pdoc warning."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _builder():
    spec = importlib.util.spec_from_file_location("build_api_docs", ROOT / "tools" / "build_api_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # imports every module and renders ~80 pages: ~10 s of CPU
def test_the_reference_documents_every_public_module(tmp_path: Path) -> None:
    builder = _builder()
    modules = builder.build(tmp_path)  # a pdoc warning (e.g. a name of __all__ that does not import) raises
    assert {"smoothcert", "smoothcert.smooth", "smoothcert.stats", "smoothcert.recipes", "smoothcert.cli.main",
            "smoothcert.certify.rows", "smoothcert.train.trainer"} <= set(modules)
    assert not [m for m in modules if "._" in m or m.endswith("__main__")]
    for name in modules:
        assert (tmp_path / (name.replace(".", "/") + ".html")).is_file(), name
    smooth = (tmp_path / "smoothcert" / "smooth.html").read_text()
    assert "sample_counts" in smooth and "probability at least" in smooth  # the docstrings, rendered
    assert "plot_certified_accuracy" in (tmp_path / "smoothcert" / "analysis.html").read_text()  # a lazy name
    assert (tmp_path / "index.html").is_file()
