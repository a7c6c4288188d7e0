"""Shipped recipes (smoothcert/recipes/): complete, in sync with their _generate.py, resolvable, and buildable."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import smoothcert.recipes
from smoothcert.data import list_datasets
from smoothcert.errors import UserError
from smoothcert.methods import create_method, list_methods
from smoothcert.models import list_models
from smoothcert.train.config import resolve_config

CONFIGS = Path(smoothcert.recipes.__file__).parent
RECIPES = sorted(p.relative_to(CONFIGS).as_posix() for p in CONFIGS.glob("*/*.yaml"))


def _generator():
    spec = importlib.util.spec_from_file_location("configs_generate", CONFIGS / "_generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_dataset_method_and_sigma_has_a_recipe_matching_the_generator() -> None:
    generated = _generator().all_recipes()
    expected = {f"{d}/{m}_{s}.yaml" for d in ("mnist", "cifar10", "imagenet")
                for m in ("gaussian", "smoothadv", "consistency", "consistency_smoothadv", "macer", "stability")
                for s in (0.25, 0.5, 1.0)} | {"digits/gaussian_0.25.yaml", "digits/gaussian_0.5.yaml"}
    # SmoothMix and CAT-RS where their authors' repositories give the settings
    expected |= {f"{d}/smoothmix_{s}.yaml" for d in ("mnist", "cifar10") for s in (0.25, 0.5, 1.0)}
    expected |= {"mnist/catrs_0.25.yaml", "imagenet/catrs_1.0.yaml"}
    expected |= {f"cifar10/catrs_{s}.yaml" for s in (0.25, 0.5, 1.0)}
    # denoised smoothing: the noise-free classifiers and the denoisers
    expected |= {f"{d}/standard.yaml" for d in ("mnist", "cifar10")}
    expected |= {f"{d}/{m}_{s}.yaml" for d in ("mnist", "cifar10") for m in ("denoise_mse", "denoise_stability")
                 for s in (0.25, 0.5, 1.0)}
    assert set(generated) == expected == set(RECIPES)
    stale = [name for name, text in generated.items() if (CONFIGS / name).read_text() != text]
    assert not stale, f"rerun python src/smoothcert/recipes/_generate.py: {stale}"


def _needs(name: str) -> list[str]:
    """Overrides a recipe leaves to the command line: the frozen classifier of a stability denoiser."""
    return ["method_args.classifier=RUN"] if "/denoise_stability_" in name else []


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_resolves_to_registered_names(name: str) -> None:
    config = resolve_config(CONFIGS / name)
    dataset, stem = name.removesuffix(".yaml").split("/")
    method, sigma = stem.rsplit("_", 1) if stem[-1].isdigit() else (stem, None)  # standard.yaml: no sigma
    assert (config["dataset"], config["method"], config["sigma"]) == (dataset, method, sigma and float(sigma))
    assert config["dataset"] in list_datasets() and config["arch"] in list_models()


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_method_accepts_its_options(name: str) -> None:
    config = resolve_config(CONFIGS / name)
    if config["method"] not in list_methods():
        pytest.skip(f"method {config['method']} is not registered yet")
    if _needs(name):  # the classifier is loaded from a file by the training loop; the recipe has no options
        assert config["method_args"] == {}
        return
    method = create_method(config["method"], sigma=config["sigma"] or 0.0, **config["method_args"])
    for key, value in config["method_args"].items():
        assert getattr(method, key) == value, key


def test_the_papers_numbers() -> None:
    pin = {  # spot checks of the tables in recipes/_generate.py against the sources it cites
        "mnist/smoothadv_0.5.yaml": {"num_noise": 4, "epsilon": 255 / 256, "num_steps": 10, "warmup": 10},
        "mnist/macer_0.25.yaml": {"num_noise": 16, "beta": 16.0, "gamma": 8.0, "lbd": 16.0, "deferred_epochs": 31},
        "mnist/smoothmix_1.0.yaml": {"num_noise": 4, "num_steps": 8, "alpha": 1.0, "eta": 5.0, "mix_step": 1,
                                     "maxnorm_s": None, "maxnorm": None, "warmup": 10},
        "cifar10/smoothmix_0.25.yaml": {"num_noise": 2, "num_steps": 4, "alpha": 0.5, "eta": 5.0, "mix_step": 0},
        "cifar10/smoothmix_1.0.yaml": {"alpha": 2.0, "mix_step": 1},
        "cifar10/catrs_0.25.yaml": {"num_noise": 4, "epsilon": 1.0, "num_steps": 4, "lbd": 0.5, "prior_sigma": 0.25,
                                    "prior_samples": 10_000, "confidence_mask": False, "eps_double_epoch": 10000},
        "cifar10/catrs_1.0.yaml": {"lbd": 2.0, "prior_sigma": 0.25},
        "mnist/catrs_0.25.yaml": {"num_noise": 4, "epsilon": 1.0, "num_steps": 4, "lbd": 1.0},
        "mnist/consistency_1.0.yaml": {"num_noise": 2, "eta": 0.5, "lbd": 5.0},
        "cifar10/smoothadv_1.0.yaml": {"num_noise": 2, "epsilon": 2.0, "num_steps": 10},
        "cifar10/macer_1.0.yaml": {"lbd": 4.0},
        "imagenet/smoothadv_0.25.yaml": {"num_noise": 1, "num_steps": 1, "epsilon": 255 / 256},
    }
    for name, expected in pin.items():
        args = resolve_config(CONFIGS / name)["method_args"]
        assert {k: args[k] for k in expected} == expected, name
    mnist = resolve_config(CONFIGS / "mnist/gaussian_0.25.yaml")
    assert (mnist["lr"], mnist["batch_size"], mnist["epochs"], mnist["lr_step"], mnist["normalize"]) == (
        0.01, 256, 90, 30, False)
    delays = {name: resolve_config(CONFIGS / f"{name}.yaml")["lr_delay"] for name in (
        "mnist/gaussian_0.25", "mnist/macer_1.0", "cifar10/consistency_0.5", "cifar10/gaussian_0.5",
        "imagenet/consistency_0.5")}
    assert delays == {  # 1 where a recipe follows [jeong]'s schedule (their scripts step the scheduler late)
        "mnist/gaussian_0.25": 1, "mnist/macer_1.0": 1, "cifar10/consistency_0.5": 1, "cifar10/gaussian_0.5": 0,
        "imagenet/consistency_0.5": 0}
    batches = {name: resolve_config(CONFIGS / f"{name}.yaml")["batch_size"] for name in (
        "mnist/consistency_0.5", "mnist/smoothadv_0.5", "mnist/consistency_smoothadv_1.0", "mnist/stability_0.5",
        "mnist/macer_0.5", "cifar10/smoothadv_0.5", "imagenet/smoothadv_0.5", "imagenet/consistency_1.0")}
    assert batches == {  # 256 / m where the original code steps on m chunks of each batch (_chunk_minibatch)
        "mnist/consistency_0.5": 128, "mnist/smoothadv_0.5": 64, "mnist/consistency_smoothadv_1.0": 64,
        "mnist/stability_0.5": 256, "mnist/macer_0.5": 256, "cifar10/smoothadv_0.5": 128,
        "imagenet/smoothadv_0.5": 256, "imagenet/consistency_1.0": 128}
    cifar = resolve_config(CONFIGS / "cifar10/gaussian_0.5.yaml")
    assert (cifar["arch"], cifar["lr"], cifar["epochs"], cifar["lr_step"]) == ("cifar_resnet110", 0.1, 90, 30)


def test_stability_recipes_use_the_baselines_cross_entropy() -> None:
    """[jeong]'s train_stab.py penalizes H(p_clean, q_noisy), not KL(p || q) (the method's default divergence)."""
    names = [n for n in RECIPES if n.split("/")[1].startswith("stability_")]
    assert len(names) == 9
    assert {n: resolve_config(CONFIGS / n)["method_args"]["divergence"] for n in names} == dict.fromkeys(names, "xent")


@pytest.mark.parametrize("sigma", [0.25, 0.5])
def test_digits_recipes_are_the_demo_settings(sigma: float) -> None:
    demo = resolve_config(None, {"dataset": "digits", "arch": "digits_cnn", "method": "gaussian", "sigma": sigma,
                                 "epochs": 40, "batch_size": 64, "lr": 0.05, "device": "auto"}, ["lr_step=20"])
    assert resolve_config(CONFIGS / f"digits/gaussian_{sigma}.yaml") == demo


def test_recipes_are_package_resources_named_dataset_method_sigma() -> None:
    """importlib.resources (what an installed wheel offers) lists every recipe file, by name."""
    assert smoothcert.recipes.list_recipes() == [name.removesuffix(".yaml") for name in RECIPES]
    assert smoothcert.recipes.recipe_text("mnist/gaussian_0.25") == (CONFIGS / "mnist/gaussian_0.25.yaml").read_text()


def test_config_by_name_equals_config_by_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no configs/ here: the name must come from the package
    by_file = resolve_config(CONFIGS / "cifar10/consistency_0.25.yaml")
    assert resolve_config("cifar10/consistency_0.25") == by_file
    assert resolve_config("cifar10/consistency_0.25.yaml") == by_file


def test_a_file_wins_over_a_recipe_of_the_same_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "gaussian_0.25.yaml").write_text("dataset: digits\narch: mlp\nsigma: 0.3\n")
    assert resolve_config("mnist/gaussian_0.25.yaml")["sigma"] == 0.3  # the file
    assert resolve_config("mnist/gaussian_0.25")["sigma"] == 0.25  # no file of that name: the recipe


def test_an_unknown_recipe_name_lists_the_datasets_recipes() -> None:
    with pytest.raises(UserError,
                       match=r"config mnist/gaussian_0.3 does not exist .*the mnist recipes: .*gaussian_0.25"):
        resolve_config("mnist/gaussian_0.3")
    with pytest.raises(UserError, match=r"for datasets cifar10, digits, imagenet, mnist$"):
        resolve_config("nope.yaml")


def test_configs_in_a_clone_is_the_shipped_recipes() -> None:
    """``--config configs/mnist/gaussian_0.25.yaml`` keeps working from a checkout: configs links to the recipes."""
    configs = Path(__file__).resolve().parents[2] / "configs"
    assert configs.is_symlink() and configs.resolve() == CONFIGS.resolve()
    assert resolve_config(configs / "mnist/gaussian_0.25.yaml") == resolve_config("mnist/gaussian_0.25")
def test_denoised_smoothing_recipes_are_the_authors_settings() -> None:
    """[salman20]: DnCNN 17x64; MSE with Adam 1e-3, 90 epochs, x0.1 every 30 (stepped late); stability at 1e-5."""
    mse = resolve_config(CONFIGS / "cifar10/denoise_mse_0.25.yaml")
    assert (mse["arch"], mse["arch_args"], mse["optimizer"], mse["lr"], mse["epochs"], mse["lr_step"],
            mse["lr_delay"], mse["batch_size"], mse["weight_decay"]) == (
        "dncnn", {"depth": 17, "width": 64}, "adam", 1e-3, 90, 30, 1, 256, 1e-4)
    stab = resolve_config(CONFIGS / "mnist/denoise_stability_0.5.yaml", overrides=_needs("/denoise_stability_"))
    assert (stab["method"], stab["sigma"], stab["optimizer"], stab["lr"], stab["batch_size"], stab["epochs"]) == (
        "denoise_stability", 0.5, "adam", 1e-5, 64, 25)
    standard = resolve_config(CONFIGS / "cifar10/standard.yaml")
    assert (standard["sigma"], standard["lr"], standard["weight_decay"], standard["epochs"]) == (None, 0.1, 5e-4, 90)
    lenet = resolve_config(CONFIGS / "mnist/standard.yaml")
    gaussian = resolve_config(CONFIGS / "mnist/gaussian_0.25.yaml")
    assert {k: v for k, v in lenet.items() if k not in ("method", "sigma")} == {
        k: v for k, v in gaussian.items() if k not in ("method", "sigma")}  # the same LeNet recipe, without noise
