"""Recipes in configs/: complete, in sync with configs/_generate.py, resolvable, and buildable."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from smoothcert.data import list_datasets
from smoothcert.methods import create_method, list_methods
from smoothcert.models import list_models
from smoothcert.train.config import resolve_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
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
    assert set(generated) == expected == set(RECIPES)
    stale = [name for name, text in generated.items() if (CONFIGS / name).read_text() != text]
    assert not stale, f"rerun python configs/_generate.py: {stale}"


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_resolves_to_registered_names(name: str) -> None:
    config = resolve_config(CONFIGS / name)
    dataset, stem = name.split("/")
    method, sigma = stem.removesuffix(".yaml").rsplit("_", 1)
    assert (config["dataset"], config["method"], config["sigma"]) == (dataset, method, float(sigma))
    assert config["dataset"] in list_datasets() and config["arch"] in list_models()


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_method_accepts_its_options(name: str) -> None:
    config = resolve_config(CONFIGS / name)
    if config["method"] not in list_methods():
        pytest.skip(f"method {config['method']} is not registered yet")
    method = create_method(config["method"], sigma=config["sigma"], **config["method_args"])
    for key, value in config["method_args"].items():
        assert getattr(method, key) == value, key


def test_the_papers_numbers() -> None:
    pin = {  # spot checks of the tables in configs/_generate.py against the sources it cites
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
        "imagenet/catrs_1.0.yaml": {"num_noise": 2, "num_steps": 1, "lbd": 2.0, "confidence_mask": True,
                                    "eps_double_epoch": 80, "prior_sigma": 0.25},
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
        "mnist/macer_0.5", "cifar10/smoothadv_0.5", "imagenet/smoothadv_0.5", "imagenet/consistency_1.0",
        "mnist/smoothmix_0.5", "cifar10/smoothmix_0.5", "cifar10/catrs_0.5", "imagenet/catrs_1.0")}
    assert batches == {  # 256 / m where the original code steps on m chunks of each batch (_chunk_minibatch)
        "mnist/consistency_0.5": 128, "mnist/smoothadv_0.5": 64, "mnist/consistency_smoothadv_1.0": 64,
        "mnist/stability_0.5": 256, "mnist/macer_0.5": 256, "cifar10/smoothadv_0.5": 128,
        "imagenet/smoothadv_0.5": 256, "imagenet/consistency_1.0": 128, "mnist/smoothmix_0.5": 64,
        "cifar10/smoothmix_0.5": 128, "cifar10/catrs_0.5": 64, "imagenet/catrs_1.0": 128}
    keys = ("epochs", "lr", "lr_step", "lr_delay")
    schedules = {name: tuple(resolve_config(CONFIGS / f"{name}.yaml")[k] for k in keys)
                 for name in ("mnist/smoothmix_0.25", "cifar10/smoothmix_1.0", "mnist/catrs_0.25", "cifar10/catrs_0.5",
                              "imagenet/catrs_1.0")}
    assert schedules == {  # the authors' commands and logs; their scripts step the scheduler after each epoch
        "mnist/smoothmix_0.25": (90, 0.01, 30, 1), "cifar10/smoothmix_1.0": (150, 0.1, 50, 1),
        "mnist/catrs_0.25": (150, 0.01, 50, 1), "cifar10/catrs_0.5": (150, 0.1, 50, 1),
        "imagenet/catrs_1.0": (90, 0.1, 30, 1)}
    cifar = resolve_config(CONFIGS / "cifar10/gaussian_0.5.yaml")
    assert (cifar["arch"], cifar["lr"], cifar["epochs"], cifar["lr_step"]) == ("cifar_resnet110", 0.1, 90, 30)


@pytest.mark.parametrize("sigma", [0.25, 0.5, 1.0])
def test_mnist_macer_starts_with_the_first_late_lr_decay(sigma: float) -> None:
    """[jeong]'s --deferred: lambda = 0 while epoch <= lr_step_size (0-based), i.e. up to epoch 30 on MNIST."""
    from smoothcert.train.trainer import build_method, build_optimizer

    config = resolve_config(CONFIGS / f"mnist/macer_{sigma}.yaml")
    method = build_method(config)
    optimizer, scheduler = build_optimizer(config, torch.nn.Linear(1, 1))
    lbds, lrs = [], []
    for epoch in range(config["epochs"]):
        method.set_epoch(epoch)
        lbds.append(method.current_lbd)
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients: changes nothing, but keeps the scheduler's call order
        scheduler.step()
    off = [epoch for epoch, lbd in enumerate(lbds) if lbd == 0.0]
    assert off == list(range(31))  # epochs 0..30: the authors' `epoch <= 30`
    assert all(lbd == config["method_args"]["lbd"] for lbd in lbds[31:])
    assert lrs[30] == 0.01 and lrs[31] == pytest.approx(0.001)  # the first decay is at epoch 31 too


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
