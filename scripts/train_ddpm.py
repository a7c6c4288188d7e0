"""Train a small DDPM (diffusers' UNet2DModel + DDPMScheduler) on a smoothcert dataset, on a CPU if need be.

It makes a diffusion model to demonstrate diffusion denoised smoothing where none can be downloaded
(``smoothcert certify ... --diffusion OUT/model``). It is a script, not a ``smoothcert`` subcommand:
smoothcert certifies diffusion models that people already have; training them is outside its contract.

The objective is DDPM's (Ho et al. 2020): images x0 in [-1, 1], t uniform, eps ~ N(0, I),
minimise ``||eps - eps_hat(sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t)||^2``, with the
scheduler's linear betas over 1000 steps. ``--max-timestep M`` draws t from [0, M) only: one-shot
denoising at smoothing noise sigma uses the t with ``(1 - abar_t) / abar_t = (2 sigma)^2`` (t ~ 396 for
sigma 1 with this schedule), so a model trained on t < 400 denoises sigma <= 1 but cannot generate
images from pure noise. Weights are averaged (EMA) and the average is what is saved.

Resumable: ``OUT/train_state.pt`` is written atomically every ``--save-every`` steps and at the end of
each epoch, with the RNG states; rerunning the same command continues (bit for bit). The model is written
with ``save_pretrained`` to ``OUT/model`` (model_index.json, unet/, scheduler/) at each save.

Example:
    OMP_NUM_THREADS=1 python scripts/train_ddpm.py --dataset mnist --data-dir DATA --out runs/ddpm --epochs 3
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

from smoothcert._io import atomic_write
from smoothcert.data import create_dataset

SETTINGS = ("dataset", "batch_size", "lr", "max_timestep", "channels", "layers_per_block", "ema_decay", "seed")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", required=True, help="directory: model/ (save_pretrained), train_state.pt, log.csv")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-timestep", type=int, default=400, help="train t in [0, M) (1000: every timestep)")
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 64, 64], help="UNet block_out_channels")
    parser.add_argument("--layers-per-block", type=int, default=1)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--save-every", type=int, default=200, help="steps between saves")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def fail(message: str) -> None:
    """One ``error:`` line on stderr and exit status 2, as smoothcert's own commands."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def build(args: argparse.Namespace, channels: int, size: int) -> tuple[Any, Any]:
    from diffusers import DDPMScheduler, UNet2DModel

    blocks = len(args.channels)
    unet = UNet2DModel(sample_size=size, in_channels=channels, out_channels=channels,
                       block_out_channels=tuple(args.channels), layers_per_block=args.layers_per_block,
                       down_block_types=("DownBlock2D",) * blocks, up_block_types=("UpBlock2D",) * blocks,
                       norm_num_groups=8)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", prediction_type="epsilon")
    return unet, scheduler


def save_model(ema: torch.nn.Module, scheduler: Any, out: Path) -> None:
    """``DDPMPipeline.save_pretrained`` into a temporary directory, then swapped in for ``out/model``."""
    from diffusers import DDPMPipeline

    tmp, old = out / "model.tmp", out / "model.old"
    shutil.rmtree(tmp, ignore_errors=True)
    DDPMPipeline(unet=ema, scheduler=scheduler).save_pretrained(tmp)
    if (out / "model").exists():
        (out / "model").rename(old)
    tmp.rename(out / "model")
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "model.old").exists() and not (out / "model").exists():  # killed between the two renames
        (out / "model.old").rename(out / "model")
    data = create_dataset(args.dataset, "train", args.data_dir)
    channels, height, width = data.info.input_shape
    if height != width:
        fail(f"{args.dataset} images are {height}x{width}; this script trains square UNets")
    torch.manual_seed(args.seed)
    unet, scheduler = build(args, channels, height)
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.0)
    settings = {key: getattr(args, key) for key in SETTINGS}
    gen = torch.Generator().manual_seed(args.seed)
    step, epoch, position = 0, 0, 0
    state_file = out / "train_state.pt"
    if state_file.exists():
        state = torch.load(state_file, map_location="cpu", weights_only=True)
        if state["settings"] != settings:
            fail(f"{state_file} was trained with {state['settings']}; "
                 "rerun with those settings or choose another --out")
        unet.load_state_dict(state["unet"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        step, epoch, position = state["step"], state["epoch"], state["position"]
        print(f"resuming at epoch {epoch + 1}, step {step}", file=sys.stderr)
    abar = scheduler.alphas_cumprod
    parameters = sum(p.numel() for p in unet.parameters())
    log = out / "log.csv"

    def save() -> None:
        payload = {"unet": unet.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                   "generator": gen.get_state(), "step": step, "epoch": epoch, "position": position,
                   "settings": settings}
        atomic_write(state_file, lambda fh: torch.save(payload, fh))
        save_model(ema, scheduler, out)
        info = {**settings, "parameters": parameters, "steps": step, "epochs_done": epoch + position / len(data),
                "schedule": "linear betas 1e-4..0.02, 1000 steps", "images": len(data)}
        (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")

    began, losses = time.perf_counter(), []
    while epoch < args.epochs:
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(args.seed * 100_003 + epoch))
        unet.train()
        while position < len(data):
            index = order[position : position + args.batch_size]
            x0 = data.images[index] * 2.0 - 1.0
            t = torch.randint(0, args.max_timestep, (len(index),), generator=gen)
            eps = torch.randn(x0.shape, generator=gen)
            a = abar[t].view(-1, 1, 1, 1)
            x_t = a.sqrt() * x0 + (1.0 - a).sqrt() * eps
            loss = (unet(x_t, t).sample - eps).pow(2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            decay = min(args.ema_decay, (1.0 + step) / (10.0 + step))
            with torch.no_grad():
                for avg, cur in zip(ema.parameters(), unet.parameters(), strict=True):
                    avg.mul_(decay).add_(cur.detach(), alpha=1.0 - decay)
            step, position = step + 1, position + len(index)
            losses.append(float(loss.detach()))
            if step % args.save_every == 0 or position >= len(data):
                if position >= len(data):
                    epoch, position = epoch + 1, 0
                save()
                new = not log.exists()
                with open(log, "a", newline="") as fh:
                    writer = csv.writer(fh)
                    if new:
                        writer.writerow(["step", "epoch", "loss", "seconds"])
                    writer.writerow([step, f"{epoch + position / len(data):.4f}", f"{sum(losses) / len(losses):.5f}",
                                     f"{time.perf_counter() - began:.1f}"])
                print(f"step {step} epoch {epoch + position / len(data):.3f} loss {sum(losses) / len(losses):.4f}",
                      file=sys.stderr, flush=True)
                began, losses = time.perf_counter(), []
                if position == 0:
                    break
    print(f"wrote {out / 'model'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
