"""Write the training recipes ``<dataset>/<method>_<sigma>.yaml`` beside this file.

The recipes ship with the package (``smoothcert train --config mnist/gaussian_0.25``
finds them wherever smoothcert is installed). Run ``python src/smoothcert/recipes/_generate.py``
after editing the tables below; ``tests/unit/test_recipes.py`` checks that the files match this script.

Units: sigma and every epsilon are L2 norms in [0, 1]-pixel space. The original
SmoothAdv code divided its ``--epsilon`` flag by 256, so its "255" is
255/256 = 0.99609375 here and its "512" is 2.0.

Sources (the numbers below cite them per dataset and method):

* [cohen] Cohen, Rosenfeld & Kolter (2019), github.com/locuslab/smoothing ``code/train.py``:
  SGD lr 0.1, momentum 0.9, weight decay 1e-4, batch 256, 90 epochs, lr x0.1 every 30.
* [salman] Salman et al. (2019), github.com/Hadisalman/smoothing-adversarial: README (CIFAR-10:
  150 epochs, lr step 50, warm-up 10) and ``analysis/radii_to_best_models/{cifar10,imagenet}_ours``
  (the best models per sigma: CIFAR-10 PGD 10 steps, m=4 eps 255 at sigma 0.25, m=2 eps 512 at 0.5 and 1.0;
  ImageNet PGD 1 step, m=1, eps 255 at 0.25 and 0.5, eps 512 at 1.0).
* [jeong] Jeong & Shin (2020), arXiv:2006.04062 appendix A.1 (MNIST: lr 0.01, batch 256, 90 epochs, decay at
  30/60; CIFAR-10: lr 0.1, batch 256, 150 epochs, decay at 50/100; ImageNet: lr 0.1, 90 epochs, decay at
  30/60; SmoothAdv's epsilon warmed up over 10 epochs) and the certification logs of
  github.com/jh-jeong/smoothing-consistency ``data/certify/...``, whose directory names record the settings
  (CIFAR-10 consistency num_2/lbd_10.0/eta_0.5 at every sigma; consistency+SmoothAdv salman_255.0_10_10/num_4/
  lbd_2.0 at 0.25 and salman_512.0_10_10/num_2/lbd_1.0 at 0.5 and 1.0; stability lbd_2.0 at 0.25 and 0.5,
  lbd_1.0 at 1.0; ImageNet consistency num_2/lbd_5.0 with eta 0.5, and eta 0.1 at sigma 1.0).
* [macer] Zhai et al. (2020), github.com/RuntianZ/macer: k=16, beta=16, gamma=8, lambda=12 (CIFAR-10 sigma
  0.25, 0.5) and 4 (sigma 1.0); ImageNet k=2, lambda=3. Trained here with the [jeong] schedule, as in
  Jeong & Shin's comparison, not MACER's own 440 epochs at lr 0.01.
* [mnist] smoothcert's MNIST protocol (docs/mnist.md), following [jeong]'s EXPERIMENTS.MD.
* [smoothmix] Jeong et al. (2021), github.com/jh-jeong/smoothmix: README (MNIST: "w/ one-step adversary, eta=5.0",
  m=4, alpha 1, mix_step 1) and EXPERIMENTS.MD (MNIST: lr 0.01, 90 epochs, lr step 30, T = 2, 4, 8 at sigma 0.25,
  0.5, 1.0 with eta 5; CIFAR-10: lr 0.1, 150 epochs, lr step 50, m=2, T=4, eta 5, alpha 0.5, 1, 2 at sigma 0.25,
  0.5, 1.0); ``code/train.py`` steps the scheduler after each epoch (lr_delay 1). No ImageNet command is given.
* [catrs] Jeong, Kim & Shin (2023), github.com/alinlab/smoothing-catrs: EXPERIMENTS.MD (CIFAR-10: lr 0.1, 150 epochs,
  lr step 50, m=4, --eps 256 (1.0), T=4, lambda 0.5, 1, 2 at sigma 0.25, 0.5, 1.0; its SmoothMix baseline:
  mix_step 0 at sigma 0.25, 1 at 0.5 and 1.0; the smoothed prediction: the sigma 0.25 Gaussian model, N = 10,000 on
  the train split), README (ImageNet sigma 1.0: m=2, T=1, lambda 2, --warmup 80 (the radius doubles from epoch 80),
  --confidence_mask, 90 epochs, lr step 30; its --lr_drop 85, a one-epoch lr cut, is not offered here), the path
  ``logs/mnist/catrs/adv_256.0_4/lbd_1.0/num_4/noise_0.25`` (MNIST sigma 0.25: m=4, eps 1.0, T=4, lambda 1) and
  ``data/mnist/noise_0.25/log.txt`` (150 epochs, lr 0.01, decay after epoch 50). MNIST sigma 0.5 and 1.0 are not
  given, so there are no recipes for them. ``train_catrs.py`` steps the scheduler after each epoch (lr_delay 1).
* [salman20] Salman, Sun, Yang, Kapoor & Kolter (2020), github.com/microsoft/denoised-smoothing ``code/``:
  ``train_classifier.py`` defaults for the noise-free CIFAR-10 classifier (SGD lr 0.1, momentum 0.9, weight decay
  5e-4, batch 256, 90 epochs, lr x0.1 every 30, ``scheduler.step(epoch)`` after each epoch); ``train_denoiser.py``
  defaults for the MSE denoiser (Adam lr 1e-3, weight decay 1e-4, batch 256, 90 epochs, lr x0.1 every 30, also
  stepped after each epoch) and ``cifar_dncnn`` (17 layers, 64 channels). The stability fine-tuning settings (Adam
  lr 1e-5, batch 64, 25 epochs) are those of ``code/run_train_denoiser.sh`` in a public fork of that code
  (RulinShao/denoised-smoothing); the authors' script takes its lr from the command line.

lr_delay 1: [jeong]'s train_*.py call ``scheduler.step(epoch)`` after each epoch, so every decay comes one
epoch late (MNIST: 31 epochs at 0.01, 30 at 0.001, 29 at 0.0001); [cohen]'s train.py steps before the epoch
(lr_delay 0).

MACER deferred: [jeong]'s ``train_macer.py --deferred`` sets lambda = 0 while ``epoch <= lr_step_size`` (0-based),
i.e. ``deferred_epochs = lr_step + 1``: on MNIST the robustness loss starts at epoch 31 (0-based), the epoch of the
first (late) lr decay.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

SIGMAS = (0.25, 0.5, 1.0)
# [jeong]'s stability baseline (train_stab.py) penalizes the cross-entropy of the noisy prediction against the
# clean one, H(p_clean, q_noisy) = KL(p || q) + H(p), not the KL divergence that is the method's default.
STAB_XENT = {"divergence": "xent"}
METHODS = ("gaussian", "smoothadv", "consistency", "consistency_smoothadv", "macer", "stability", "smoothmix", "catrs")
EPS_255 = 255 / 256  # SmoothAdv's "--epsilon 255"
EPS_512 = 2.0  # "--epsilon 512"
GENERATOR = "smoothcert/recipes/_generate.py"

BASE = {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-4, "lr_gamma": 0.1, "seed": 0}
SCHEDULES = {  # dataset -> method -> (config values, source)
    "mnist": {m: ({"arch": "lenet", "epochs": 90, "batch_size": 256, "lr": 0.01, "lr_step": 30, "lr_delay": 1,
                   "normalize": False},
                  "[mnist], [jeong] A.1 and train_*.py (decays one epoch late)") for m in METHODS},
    "cifar10": {m: ({"arch": "cifar_resnet110", "epochs": 150, "batch_size": 256, "lr": 0.1, "lr_step": 50,
                     "lr_delay": 1, "normalize": True},
                    "[jeong] A.1 (150 epochs, lr x0.1 at 50 and 100) and train_*.py (decays one epoch late)")
                for m in METHODS},
    "imagenet": {m: ({"arch": "resnet50", "epochs": 90, "batch_size": 256, "lr": 0.1, "lr_step": 30,
                      "normalize": True, "eval_noise": False}, "[cohen] train.py defaults") for m in METHODS},
}
# The original SmoothAdv and consistency scripts ([salman] train_pgd.py with --train-multi-noise; [jeong]
# train_salman.py and train_consistency.py: `get_minibatches` / `_chunk_minibatch`) split each loaded batch of
# 256 images into m = num_noise chunks and take one SGD step per chunk on its m noisy copies: 256/m images (256
# noisy inputs) per step, m times the steps per epoch. A recipe says that as batch_size 256/m (the same steps
# but for the epoch's last, partial batch). Gaussian, stability and MACER (all draws of a full batch in one
# step) are not chunked.
CHUNKED = ("smoothadv", "consistency", "consistency_smoothadv", "smoothmix", "catrs")
SCHEDULES["cifar10"]["gaussian"] = ({**SCHEDULES["cifar10"]["gaussian"][0], "epochs": 90, "lr_step": 30,
                                     "lr_delay": 0},
                                    "[cohen] train.py defaults (90 epochs, lr x0.1 every 30)")
SCHEDULES["mnist"]["smoothmix"] = (SCHEDULES["mnist"]["smoothmix"][0],
                                   "[smoothmix] EXPERIMENTS.MD and train.py (decays one epoch late)")
SCHEDULES["cifar10"]["smoothmix"] = (SCHEDULES["cifar10"]["smoothmix"][0],
                                     "[smoothmix] EXPERIMENTS.MD and train.py (decays one epoch late)")
SCHEDULES["mnist"]["catrs"] = ({**SCHEDULES["mnist"]["catrs"][0], "epochs": 150, "lr_step": 50},
                               "[catrs] data/mnist log (150 epochs, lr 0.01 x0.1 at 50 and 100) and train_catrs.py "
                               "(decays one epoch late)")
SCHEDULES["cifar10"]["catrs"] = (SCHEDULES["cifar10"]["catrs"][0],
                                 "[catrs] EXPERIMENTS.MD and train_catrs.py (decays one epoch late)")
SCHEDULES["imagenet"]["catrs"] = ({**SCHEDULES["imagenet"]["catrs"][0], "lr_delay": 1},
                                  "[catrs] README (90 epochs, lr step 30) and train_catrs.py (decays one epoch late)")
# CAT-RS reads the smoothed prediction of a Gaussian model at sigma 0.25 (every training sigma); the recipe cannot
# know where that model is: method_args.pretrained is set on the command line.
PRETRAINED_NOTE = ("# set method_args.pretrained=RUN_DIR: a gaussian run at sigma 0.25 on this dataset (the authors "
                   "trained it for {epochs} epochs, lr {lr}, lr step {step}).\n")
PRETRAIN = {"mnist": (150, 0.01, 50), "cifar10": (150, 0.1, 50), "imagenet": (90, 0.1, 30)}


def _pgd(epsilon: float, steps: int, warmup: int = 10) -> dict[str, Any]:
    return {"epsilon": epsilon, "num_steps": steps, "attack": "pgd", "warmup": warmup}


def _consistency(num_noise: int, lbd: float, eta: float = 0.5) -> dict[str, Any]:
    return {"num_noise": num_noise, "lbd": lbd, "eta": eta, "consistency": "default"}


def _macer(lbd: float, num_noise: int = 16, deferred: int = 0) -> dict[str, Any]:
    return {"num_noise": num_noise, "beta": 16.0, "gamma": 8.0, "lbd": lbd, "deferred_epochs": deferred}


def _smoothmix(num_noise: int, steps: int, alpha: float, mix_step: int, eta: float = 5.0) -> dict[str, Any]:
    return {"num_noise": num_noise, "num_steps": steps, "alpha": alpha, "eta": eta, "mix_step": mix_step,
            "maxnorm_s": None, "maxnorm": None, "warmup": 10}


def _catrs(num_noise: int, steps: int, lbd: float, **extra: Any) -> dict[str, Any]:
    return {"num_noise": num_noise, "epsilon": 1.0, "num_steps": steps, "lbd": lbd, "confidence_mask": False,
            "eps_double_epoch": 10000, **extra, "pretrained": None, "prior_sigma": 0.25, "prior_samples": 10_000,
            "prior_batch": 1000, "prior_seed": 0}


def method_args(dataset: str, method: str, sigma: float) -> tuple[dict[str, Any], str] | None:
    """The method's options and where they come from; None where the sources give none."""
    low = sigma < 1.0
    if method == "gaussian":
        return {}, "[cohen]"
    if method == "smoothmix":
        if dataset == "mnist":
            return _smoothmix(4, {0.25: 2, 0.5: 4, 1.0: 8}[sigma], 1.0, 1), "[smoothmix] README and EXPERIMENTS.MD"
        if dataset == "cifar10":
            return (_smoothmix(2, 4, {0.25: 0.5, 0.5: 1.0, 1.0: 2.0}[sigma], 0 if sigma == 0.25 else 1),
                    "[smoothmix] EXPERIMENTS.MD, mix_step as [catrs]'s SmoothMix baseline")
        return None
    if method == "catrs":
        if dataset == "mnist" and sigma == 0.25:
            return _catrs(4, 4, 1.0), "[catrs] the MNIST sigma 0.25 log path"
        if dataset == "cifar10":
            return _catrs(4, 4, {0.25: 0.5, 0.5: 1.0, 1.0: 2.0}[sigma]), "[catrs] EXPERIMENTS.MD"
        if dataset == "imagenet" and sigma == 1.0:
            return (_catrs(2, 1, 2.0, confidence_mask=True, eps_double_epoch=80),
                    "[catrs] README (its --num_noise_vec 2, a flag its argparse spells --num-noise-vec)")
        return None
    if dataset == "mnist":
        table = {
            "smoothadv": ({"num_noise": 4, **_pgd(EPS_255, 10), "no_grad_attack": False}, "[mnist]"),
            "consistency": (_consistency(2, 10.0 if sigma == 0.25 else 5.0), "[mnist]"),
            "consistency_smoothadv": ({**_consistency(4, 1.0), **_pgd(EPS_255, 10)}, "[mnist]"),
            "macer": (_macer(16.0 if low else 6.0, deferred=31),
                      "[mnist], [jeong] EXPERIMENTS.MD and train_macer.py (--deferred: lambda 0 while epoch <= 30)"),
            "stability": ({"lbd": 2.0, **STAB_XENT}, "[mnist], [jeong] train_stab.py"),
        }
    elif dataset == "cifar10":
        table = {
            "smoothadv": ({"num_noise": 4 if sigma == 0.25 else 2, **_pgd(EPS_255 if sigma == 0.25 else EPS_512, 10),
                           "no_grad_attack": False}, "[salman] best models"),
            "consistency": (_consistency(2, 10.0), "[jeong] logs"),
            "consistency_smoothadv": (
                {**_consistency(4, 2.0), **_pgd(EPS_255, 10)} if sigma == 0.25
                else {**_consistency(2, 1.0), **_pgd(EPS_512, 10)}, "[jeong] logs"),
            "macer": (_macer(12.0 if low else 4.0), "[macer]"),
            "stability": ({"lbd": 2.0 if low else 1.0, **STAB_XENT}, "[jeong] logs and train_stab.py"),
        }
    else:
        eps = EPS_255 if low else EPS_512
        table = {
            "smoothadv": ({"num_noise": 1, **_pgd(eps, 1), "no_grad_attack": False}, "[salman] best models"),
            "consistency": (_consistency(2, 5.0, 0.5 if low else 0.1), "[jeong] logs"),
            "consistency_smoothadv": ({**_consistency(2, 1.0), **_pgd(eps, 1)},
                                      "not in the papers: [jeong]'s CIFAR-10 lambda with [salman]'s ImageNet attack"),
            "macer": (_macer(3.0, num_noise=2), "[macer]"),
            "stability": ({"lbd": 2.0 if low else 1.0, **STAB_XENT}, "not in the papers: [jeong]'s CIFAR-10 values"),
        }
    return table[method]


def recipe(dataset: str, method: str, sigma: float) -> tuple[dict[str, Any], str] | None:
    """The config mapping (keys of ``smoothcert.train.config.DEFAULTS``) and a header comment; None where none."""
    schedule, schedule_source = SCHEDULES[dataset][method]
    found = method_args(dataset, method, sigma)
    if found is None:
        return None
    args, args_source = found
    config = {"dataset": dataset, "arch": schedule["arch"], "method": method, "sigma": sigma, "method_args": args,
              **{k: v for k, v in schedule.items() if k != "arch"}, **BASE}
    header = (f"# {dataset} / {method} / sigma {sigma}: generated by {GENERATOR}, do not edit.\n"
              f"# schedule: {schedule_source}; method options: {args_source}.\n"
              f"# sigma and epsilon are L2 norms in [0, 1]-pixel units (see {GENERATOR} for sources).\n")
    m = int(args.get("num_noise", 1))
    if method in CHUNKED and m > 1:
        config["batch_size"] = int(schedule["batch_size"]) // m  # type: ignore[call-overload]
        header += (f"# batch_size {config['batch_size']} = {schedule['batch_size']} / num_noise: the original code "
                   f"steps on {m} chunks of each batch of {schedule['batch_size']} ({GENERATOR}, CHUNKED).\n")
    if method == "catrs":
        epochs, lr, step = PRETRAIN[dataset]
        header += PRETRAINED_NOTE.format(epochs=epochs, lr=lr, step=step)
    return config, header


def digits_recipe(sigma: float) -> tuple[dict[str, Any], str]:
    """The settings of ``smoothcert demo``: 40 epochs, batch 64, lr 0.05 (x0.1 at epoch 20)."""
    config = {"dataset": "digits", "arch": "digits_cnn", "method": "gaussian", "sigma": sigma, "method_args": {},
              "epochs": 40, "batch_size": 64, "lr": 0.05, "lr_step": 20, "normalize": True, **BASE}
    header = (f"# digits / gaussian / sigma {sigma}: the settings of `smoothcert demo`; generated by "
              f"{GENERATOR}, do not edit.\n")
    return config, header


# Denoised smoothing [salman20]: the off-the-shelf classifier (no noise) and the denoisers put in front of it.
DENOISE_DATASETS = ("mnist", "cifar10")
STANDARD = {
    "mnist": ({**SCHEDULES["mnist"]["gaussian"][0]},
              "the MNIST schedule of the other methods ([mnist]), so the LeNets differ only in the noise"),
    "cifar10": ({"arch": "cifar_resnet110", "epochs": 90, "batch_size": 256, "lr": 0.1, "lr_step": 30, "lr_delay": 1,
                 "normalize": True, "weight_decay": 5e-4}, "[salman20] train_classifier.py defaults"),
}
DENOISE_MSE = {"arch": "dncnn", "arch_args": {"depth": 17, "width": 64}, "optimizer": "adam", "lr": 1e-3,
               "weight_decay": 1e-4, "batch_size": 256, "epochs": 90, "lr_step": 30, "lr_gamma": 0.1, "lr_delay": 1,
               "normalize": False, "seed": 0}
DENOISE_STABILITY = {**DENOISE_MSE, "lr": 1e-5, "batch_size": 64, "epochs": 25}


def standard_recipe(dataset: str) -> tuple[dict[str, Any], str]:
    """The noise-free classifier that denoised smoothing starts from (no sigma)."""
    schedule, source = STANDARD[dataset]
    config = {"dataset": dataset, "arch": schedule["arch"], "method": "standard", "method_args": {},
              **BASE, **{k: v for k, v in schedule.items() if k != "arch"}}
    header = (f"# {dataset} / standard (no noise, no sigma): generated by {GENERATOR}, do not edit.\n"
              f"# schedule: {source}.\n# Certify it with --sigma S, alone or behind a denoiser (docs/denoised.md).\n")
    return config, header


def denoise_recipe(dataset: str, method: str, sigma: float) -> tuple[dict[str, Any], str]:
    """A DnCNN denoiser for noise sigma: MSE pre-training, or stability fine-tuning of it for one classifier."""
    settings = DENOISE_MSE if method == "denoise_mse" else DENOISE_STABILITY
    config = {"dataset": dataset, "method": method, "sigma": sigma, "method_args": {}, **settings}
    header = (f"# {dataset} / {method} / sigma {sigma}: generated by {GENERATOR}, do not edit.\n"
              f"# [salman20]'s DnCNN and train_denoiser.py schedule (see {GENERATOR} for sources).\n")
    if method == "denoise_stability":
        header += ("# give the frozen classifier and the MSE denoiser to fine-tune on the command line:\n"
                   "#   method_args.classifier=RUN_OR_CHECKPOINT init=MSE_RUN_OR_CHECKPOINT\n")
    return config, header


def all_recipes() -> dict[str, str]:
    """Relative path -> file text, for every recipe."""
    out: dict[str, str] = {}
    for dataset in SCHEDULES:
        for method in METHODS:
            for sigma in SIGMAS:
                made = recipe(dataset, method, sigma)
                if made is not None:
                    config, header = made
                    out[f"{dataset}/{method}_{sigma}.yaml"] = header + yaml.safe_dump(config, sort_keys=False)
    for sigma in (0.25, 0.5):
        config, header = digits_recipe(sigma)
        out[f"digits/gaussian_{sigma}.yaml"] = header + yaml.safe_dump(config, sort_keys=False)
    for dataset in DENOISE_DATASETS:
        config, header = standard_recipe(dataset)
        out[f"{dataset}/standard.yaml"] = header + yaml.safe_dump(config, sort_keys=False)
        for method in ("denoise_mse", "denoise_stability"):
            for sigma in SIGMAS:
                config, header = denoise_recipe(dataset, method, sigma)
                out[f"{dataset}/{method}_{sigma}.yaml"] = header + yaml.safe_dump(config, sort_keys=False)
    return out


def main(root: Path) -> int:
    for relative, text in all_recipes().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(all_recipes())} recipes under {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(__file__).resolve().parent))
