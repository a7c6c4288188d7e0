"""`smoothcert --help` answers at once: building the parser imports no torch, numpy, scipy or matplotlib.

Structural checks, not timings: each runs in a fresh interpreter and lists the
heavy modules loaded after ``import smoothcert.cli.main`` and building the parser.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys

import pytest

from smoothcert.cli.main import SUBCOMMANDS

HEAVY = ("torch", "numpy", "scipy", "matplotlib", "sklearn", "yaml", "tqdm")
# These modules import torch at their top; the certification engine rewrite moves those imports into run().
IMPORT_TORCH_AT_TOP: set[str] = set()


def heavy_modules_after(code: str) -> list[str]:
    """The HEAVY modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def test_top_level_help_imports_nothing_heavy() -> None:
    assert heavy_modules_after("from smoothcert.cli.main import build_parser\nbuild_parser()") == []
    assert heavy_modules_after("import smoothcert") == []


@pytest.mark.parametrize("command", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason="imports torch at module level"))
    if name in IMPORT_TORCH_AT_TOP else name for name in SUBCOMMANDS])
def test_subcommand_parser_imports_nothing_heavy(command: str) -> None:
    assert heavy_modules_after(f"from smoothcert.cli.main import build_parser\nbuild_parser({command!r})") == []


def test_help_lists_every_subcommand_with_its_docstring() -> None:
    result = subprocess.run([sys.executable, "-m", "smoothcert", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""
    for name, summary in SUBCOMMANDS.items():
        module = importlib.util.find_spec(f"smoothcert.cli.{name}")
        assert module is not None and module.origin is not None
        with open(module.origin, encoding="utf-8") as fh:
            doc = ast.get_docstring(ast.parse(fh.read())) or ""
        assert summary == doc.strip().splitlines()[0], f"SUBCOMMANDS[{name!r}] differs from its module docstring"
        assert name in result.stdout


def test_choices_written_out_for_speed_match_their_source() -> None:
    from smoothcert.analysis.intervals import DEFAULT_LEVEL
    from smoothcert.analysis.tables import FORMATS
    from smoothcert.checkpoints.legacy import NORMALIZATIONS
    from smoothcert.cli import _analysis_args, analyze, convert

    assert analyze.FORMATS == FORMATS
    assert _analysis_args.DEFAULT_LEVEL == DEFAULT_LEVEL
    assert convert.NORMALIZATIONS == NORMALIZATIONS


def test_lazy_package_attributes_are_the_real_objects() -> None:
    import smoothcert
    from smoothcert import models, smooth, stats

    assert smoothcert.Smooth is smooth.Smooth and smoothcert.stats is stats
    assert smoothcert.create_model is models.create_model
    assert set(smoothcert.__all__) == {"__version__", *smoothcert._SOURCES}
    assert set(smoothcert.__all__) <= set(dir(smoothcert))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        smoothcert.nope  # noqa: B018


def test_the_light_choice_lists_equal_the_registries() -> None:
    """certify/predict/attack list their choices without importing torch; these must stay the real ones."""
    from smoothcert.attacks import ATTACKS
    from smoothcert.certify.rewrites import AUTOCAST_DTYPES
    from smoothcert.cli._certify_args import AUTOCAST_CHOICES
    from smoothcert.cli.attack import ATTACK_CHOICES

    assert sorted(AUTOCAST_CHOICES) == sorted(AUTOCAST_DTYPES) and sorted(ATTACK_CHOICES) == sorted(ATTACKS)
