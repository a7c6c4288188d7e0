"""The wheel: it ships the recipes, and an installed smoothcert finds them from any directory.

The wheel is built offline from a copy of the sources (``pip wheel --no-deps
--no-build-isolation``, with the setuptools of the test environment), so stale
``build/`` leftovers of the checkout cannot leak into it. Installing it is
unpacking it into a directory that alone is put on ``PYTHONPATH`` (a pure-Python
wheel is a zip of the installed tree), and the commands run from a directory
that holds no recipe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from smoothcert.recipes import list_recipes
from tests.unit.test_data import write_mnist

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                           "--wheel-dir", str(dist), str(source)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (built,) = dist.glob("smoothcert-*.whl")
    return built


def test_the_wheel_holds_every_recipe_and_the_license(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    recipes = {n for n in names if n.startswith("smoothcert/recipes/") and n.endswith(".yaml")}
    assert recipes == {f"smoothcert/recipes/{name}.yaml" for name in list_recipes()}
    # the methods added in 0.2.0 are shipped too, not only the first six
    assert {f"smoothcert/recipes/{name}.yaml" for name in ("cifar10/smoothmix_0.25", "mnist/catrs_0.25",
            "mnist/standard", "cifar10/denoise_stability_0.5")} <= recipes
    assert {"smoothcert/recipes/__init__.py", "smoothcert/recipes/_generate.py", "smoothcert/py.typed"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_an_installed_smoothcert_trains_and_reproduces_from_shipped_recipes(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"  # no configs/ here, nor anywhere above
    write_mnist(work / "mnist", n=40)
    script = (
        "import sys, smoothcert\n"
        f"assert smoothcert.__file__.startswith({str(site)!r}), smoothcert.__file__\n"
        "from smoothcert.cli.main import main\n"
        "assert main(['train', '--config', 'digits/gaussian_0.25', '--epochs', '1', '--out', 'run', '--quiet',"
        " '--device', 'cpu']) == 0\n"
        "assert main(['reproduce', 'mnist', '--out', 'r', '--data-dir', 'mnist', '--methods', 'gaussian',"
        " '--sigmas', '0.5', '--epochs', '1', '--n0', '10', '--n', '50', '--device', 'cpu']) == 0\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1", "SMOOTHCERT_PROGRESS": "0"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=work, env=env, check=False, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = (work / "run" / "config.yaml").read_text()
    assert "arch: digits_cnn" in config and "lr_step: 20" in config  # the digits recipe's own settings
    assert "training (mnist/gaussian_0.5)" in proc.stderr  # reproduce took the shipped recipe
    assert "lr: 0.01" in (work / "r" / "runs" / "gaussian_0.5" / "config.yaml").read_text()
    assert len((work / "r" / "gaussian_0.5.tsv").read_text().splitlines()) == 3  # header, images 0 and 20
