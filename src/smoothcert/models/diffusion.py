"""One-shot denoising with a DDPM (Carlini et al. 2023, "(Certified!!) Adversarial Robustness for Free!").

A DDPM trained to predict the noise eps in ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``
(images in [-1, 1]) denoises a smoothing sample ``y = x + delta``, ``delta ~ N(0, sigma^2 I)``,
``x`` in [0, 1], as follows:

1. map to [-1, 1]: ``2y - 1 = (2x - 1) + 2 delta``, noise of standard deviation ``2 sigma``;
2. pick the timestep t whose noise-to-signal ratio ``(1 - abar_t) / abar_t`` is closest to
   ``(2 sigma)^2`` (:func:`timestep_for_sigma`);
3. scale: ``x_t = sqrt(abar_t) (2y - 1)``, which is ``sqrt(abar_t)(2x - 1) + sqrt(abar_t) 2 sigma eps``,
   exactly the forward process at t when ``2 sigma = sqrt((1 - abar_t) / abar_t)``;
4. one step: ``x0_hat = (x_t - sqrt(1 - abar_t) eps_hat(x_t, t)) / sqrt(abar_t)``, clamped to
   [-1, 1] (the authors' ``clip_denoised=True``), mapped back to [0, 1] by ``(x0_hat + 1) / 2``.

The authors' ``certify.py`` takes instead the *first* t >= 1 whose ratio reaches ``(2 sigma)^2``
(rule ``"first_at_least"`` here); and rather than scaling the smoothing sample they draw the
forward-process noise at t themselves, so the noise they smooth with is the schedule's at that t
(at least 2 sigma), not 2 sigma. Here the noise is exactly the smoothing noise, and t only tells
the network how much there is.

``steps > 1`` runs a deterministic DDIM (eta = 0) descent over ``steps`` timesteps evenly spaced
from t down to 0, clamping each x0 estimate; the authors' multi-step variant samples ancestrally
(fresh noise at every step). Deterministic steps keep one denoised image per noisy input, so
certification stays reproducible per (seed, example).

Inputs smaller than the network's resolution are reflection-padded to it (the noise statistics of
the padding match the image's) and cropped back; inputs an integer multiple k larger are
area-downsampled by k, which divides the noise's standard deviation by k (t is chosen for
sigma / k), and the result bilinearly upsampled back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from smoothcert.errors import UserError

RULES = ("closest", "first_at_least")


def noise_ratio(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """``(1 - abar_t) / abar_t`` for every t, in float64: the variance of the noise per unit of signal."""
    abar = alphas_cumprod.detach().double().cpu()
    return (1.0 - abar) / abar


def timestep_for_sigma(alphas_cumprod: torch.Tensor, sigma: float, rule: str = "closest") -> int:
    """The timestep whose noise matches smoothing noise ``sigma`` on [0, 1] images (``2 sigma`` on [-1, 1]).

    ``rule="closest"``: the t minimising ``|(1 - abar_t) / abar_t - (2 sigma)^2|`` (the smaller t on a tie).
    ``rule="first_at_least"``: the smallest t >= 1 with ``sqrt((1 - abar_t) / abar_t) >= 2 sigma``
    (the loop of the authors' ``certify.py``). A ``UserError`` when sigma is beyond the schedule's last t.
    """
    if rule not in RULES:
        raise UserError(f"timestep rule must be one of {', '.join(RULES)}, got {rule!r}")
    if not sigma > 0:
        raise UserError(f"diffusion denoising needs sigma > 0, got {sigma}")
    ratio = noise_ratio(alphas_cumprod)
    target = (2.0 * sigma) ** 2
    if target > float(ratio[-1]):
        raise UserError(f"sigma {sigma} is beyond this diffusion model's noise schedule (its last timestep "
                        f"matches sigma {math.sqrt(float(ratio[-1])) / 2:.4g}); use a smaller --sigma")
    if rule == "closest":
        return int(torch.argmin((ratio - target).abs()))  # argmin returns the first minimum
    reached = torch.nonzero(ratio[1:].sqrt() >= 2.0 * sigma).flatten()
    return int(reached[0]) + 1


def ddim_timesteps(t: int, steps: int) -> list[int]:
    """``steps`` timesteps from ``t`` down to 0, evenly spaced and rounded; just ``[t]`` for one step."""
    if steps < 1:
        raise UserError(f"diffusion steps must be >= 1, got {steps}")
    if steps == 1:
        return [t]
    if steps > t + 1:
        raise UserError(f"{steps} diffusion steps do not fit below timestep {t} (at most {t + 1}); use fewer steps")
    return [round(t * (steps - 1 - i) / (steps - 1)) for i in range(steps)]


def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar: float) -> torch.Tensor:
    """``(x_t - sqrt(1 - abar) eps) / sqrt(abar)``: the clean image the noise prediction implies."""
    return (x_t - math.sqrt(1.0 - alpha_bar) * eps) / math.sqrt(alpha_bar)


class DiffusionDenoiser(nn.Module):
    """Noisy images in [0, 1] (noise ``sigma``) -> denoised images in [0, 1], by a noise-predicting DDPM.

    Args:
        unet: called as ``unet(x_t, timesteps)``; returns the predicted noise (a tensor, or an object
            with ``.sample`` as diffusers' ``UNet2DModel``).
        alphas_cumprod: the scheduler's ``abar_t`` for t = 0 .. T-1.
        sigma: the smoothing noise on [0, 1] inputs.
        steps: 1 (one-shot, the paper's) or more (deterministic DDIM, module docstring).
        resolution: (H, W) the network works at; None: the input's own.
        dtype: ``torch.bfloat16`` or ``torch.float16`` to run the network under autocast; None: float32.
        rule: how t is chosen (:func:`timestep_for_sigma`).

    Example:
        >>> denoiser = DiffusionDenoiser(unet, scheduler.alphas_cumprod, sigma=0.25)
        >>> denoiser.timestep, denoiser(x + 0.25 * torch.randn_like(x))
    """

    def __init__(self, unet: nn.Module | Callable[..., object], alphas_cumprod: torch.Tensor, sigma: float, *,
                 steps: int = 1, resolution: tuple[int, int] | None = None, dtype: torch.dtype | None = None,
                 rule: str = "closest", input_size: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.unet = unet
        self.sigma = float(sigma)
        self.dtype = dtype
        self.rule = rule
        self.resolution = resolution
        self.alphas_cumprod: torch.Tensor
        self.register_buffer("alphas_cumprod", alphas_cumprod.detach().float().clone(), persistent=False)
        self.factor = 1
        if input_size is not None and resolution is not None:
            self.factor = fit_factor(input_size, resolution)
        self.timestep = timestep_for_sigma(self.alphas_cumprod, self.sigma / self.factor, rule)
        self.timesteps = ddim_timesteps(self.timestep, steps)

    def alpha_bar(self, t: int) -> float:
        """``abar_t`` as the scheduler holds it (float32), as a Python float."""
        return float(self.alphas_cumprod[t])

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        size = tuple(noisy.shape[-2:])
        factor = fit_factor(size, self.resolution) if self.resolution is not None else 1
        if factor != self.factor:
            raise UserError(f"this diffusion denoiser was set up for inputs {self.factor}x its resolution "
                            f"{self.resolution}, got {size}")
        y = F.avg_pool2d(noisy, factor) if factor > 1 else noisy
        y, crop = _pad_to(y, self.resolution)
        x = math.sqrt(self.alpha_bar(self.timesteps[0])) * (2.0 * y - 1.0)
        for i, t in enumerate(self.timesteps):
            abar = self.alpha_bar(t)
            eps = self._predict_noise(x, t)
            x0 = x0_from_eps(x, eps, abar).clamp(-1.0, 1.0)
            if i + 1 == len(self.timesteps):
                break
            after = self.alpha_bar(self.timesteps[i + 1])
            eps = (x - math.sqrt(abar) * x0) / math.sqrt(1.0 - abar)  # the noise consistent with the clamped x0
            x = math.sqrt(after) * x0 + math.sqrt(1.0 - after) * eps
        out = (x0[..., crop[0], crop[1]] + 1.0) / 2.0
        if factor > 1:
            out = F.interpolate(out, size=size, mode="bilinear", align_corners=False).clamp(0.0, 1.0)
        return out

    def _predict_noise(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        timesteps = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
        if self.dtype is None:
            out = self.unet(x_t, timesteps)
        else:
            with torch.autocast(device_type=x_t.device.type, dtype=self.dtype):
                out = self.unet(x_t, timesteps)
        eps = getattr(out, "sample", out)
        if not isinstance(eps, torch.Tensor) or eps.shape != x_t.shape:
            shape = tuple(eps.shape) if isinstance(eps, torch.Tensor) else type(eps).__name__
            raise UserError(f"the diffusion network returned {shape} for inputs {tuple(x_t.shape)}; it must predict "
                            "noise of the input's shape")
        return eps.float()


def fit_factor(size: tuple[int, ...], resolution: tuple[int, int]) -> int:
    """1 when ``size`` (H, W) fits inside ``resolution`` (padded); k when it is exactly k times it; else UserError."""
    h, w = int(size[0]), int(size[1])
    rh, rw = resolution
    if h <= rh and w <= rw:
        return 1
    if h % rh == 0 and w % rw == 0 and h // rh == w // rw:
        return h // rh
    raise UserError(f"inputs of {h}x{w} do not fit the diffusion model's {rh}x{rw}: they must be at most its size "
                    "(padded) or an integer multiple of it (downsampled)")


def _pad_to(y: torch.Tensor, resolution: tuple[int, int] | None) -> tuple[torch.Tensor, tuple[slice, slice]]:
    """Reflection-pad (replicate where the image is too small to reflect) to ``resolution``; the crop back."""
    h, w = y.shape[-2:]
    if resolution is None or (h, w) == tuple(resolution):
        return y, (slice(None), slice(None))
    top, left = (resolution[0] - h) // 2, (resolution[1] - w) // 2
    pad = (left, resolution[1] - w - left, top, resolution[0] - h - top)
    mode = "reflect" if max(pad[0], pad[1]) < w and max(pad[2], pad[3]) < h else "replicate"
    return F.pad(y, pad, mode=mode), (slice(top, top + h), slice(left, left + w))
