"""Training recipes shipped with smoothcert: the papers' hyperparameters as YAML.

Each recipe is package data, ``smoothcert/recipes/<dataset>/<method>_<sigma>.yaml``,
named ``<dataset>/<method>_<sigma>`` (e.g. ``mnist/consistency_0.5``), so it is
found wherever smoothcert is installed. ``_generate.py`` beside this file writes
them and cites the source of every number.

Example:
    >>> "mnist/gaussian_0.25" in list_recipes()
    True
    >>> config_text = read_config("mnist/gaussian_0.25")[0]
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from smoothcert.errors import UserError

SUFFIX = ".yaml"


def list_recipes() -> list[str]:
    """Names of the shipped recipes, ``<dataset>/<method>_<sigma>``, sorted."""
    root = resources.files(__name__)
    names = []
    for folder in root.iterdir():
        if folder.is_dir() and not folder.name.startswith(("_", ".")):
            names += [f"{folder.name}/{f.name[:-len(SUFFIX)]}" for f in folder.iterdir() if f.name.endswith(SUFFIX)]
    return sorted(names)


def recipe_text(name: str) -> str:
    """The YAML text of the shipped recipe ``name`` (``.yaml`` optional); ``UserError`` naming the choices."""
    stem = name.removesuffix(SUFFIX)
    if stem not in list_recipes():
        raise UserError(f"no recipe {stem!r}; {_choices(stem)}")
    dataset, recipe = stem.split("/")
    return (resources.files(__name__) / dataset / (recipe + SUFFIX)).read_text(encoding="utf-8")


def read_config(source: str | Path) -> tuple[str, str]:
    """``(YAML text, description)`` of a config given as a file path or a recipe name.

    An existing file wins; otherwise ``source`` is looked up among the shipped
    recipes (``mnist/gaussian_0.25`` or ``mnist/gaussian_0.25.yaml``). Raises
    ``UserError`` when it is neither.
    """
    path = Path(source)
    if path.is_file():
        return path.read_text(encoding="utf-8"), f"config file {path}"
    stem = str(source).removesuffix(SUFFIX)
    if stem in list_recipes():
        return recipe_text(stem), f"recipe {stem}"
    raise UserError(f"config {source} does not exist (neither a file nor a recipe name); {_choices(stem)}")


def _choices(stem: str) -> str:
    names = list_recipes()
    dataset = stem.split("/")[0]
    same = [n.split("/")[1] for n in names if n.startswith(dataset + "/")]
    if same:
        return f"the {dataset} recipes: {', '.join(same)}"
    datasets = sorted({n.split("/")[0] for n in names})
    return f"recipes are named <dataset>/<method>_<sigma> (e.g. {names[0]}) for datasets {', '.join(datasets)}"
