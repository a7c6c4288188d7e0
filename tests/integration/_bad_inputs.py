"""The bad-input catalogue: a directory of broken files ("the world") and the command lines that use them.

Every command runs with the world as its working directory and names files by
relative paths, so its error message is the same on every machine and is
quoted verbatim in ``docs/errors.md``.
"""

from __future__ import annotations

import gzip
import pickle
import re
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from smoothcert.checkpoints.store import load_checkpoint, save_checkpoint
from smoothcert.models import create_model
from tests.integration._cli_server import Result
from tests.unit.fake_data import _str, _uint8_array
from tests.unit.test_data import write_mnist

FAST = ["--n0", "10", "--n", "50", "--max", "2", "--batch-size", "50", "--quiet"]
TORCH_TEXT = r"unsafe\): (.+)$"  # what follows is torch's own explanation
MARKER = "PWNED"  # the file a malicious pickle would create in the working directory


class RunsCode:
    """Pickles as ``exec(source)``: loading it with plain ``pickle`` runs ``source``."""

    def __init__(self, source: str = f"open({MARKER!r}, 'w').close()") -> None:
        self.source = source

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (self.source,)


@dataclass(frozen=True)
class Case:
    """One bad input: its id, the command line, a phrase its ``error:`` line must contain, what is wrong.

    ``elide`` is a regular expression whose group 1 matches a third-party library's
    own words inside the message (torch, pickle, gzip, yaml); ``docs/errors.md``
    shows them as "…", so that the catalogue does not pin another project's text.
    """

    id: str
    argv: list[str]
    needle: str
    what: str
    elide: str = ""


def _certify(ckpt: str, *extra: str, out: str = "out/new.tsv") -> list[str]:
    return ["certify", ckpt, "--out", out, *FAST, *extra]


def _train(*extra: str, out: str = "newrun") -> list[str]:
    return ["train", "--dataset", "synthetic", "--arch", "mlp", "--sigma", "0.25", "--out", out, "--epochs", "1",
            "--quiet", *extra]


def _train_dncnn(method: str = "gaussian", *overrides: str) -> list[str]:
    return ["train", "--dataset", "synthetic", "--arch", "dncnn", "--method", method, "--sigma", "0.25", "--out",
            "newrun", "--epochs", "1", "--quiet", "arch_args.depth=2", *overrides]


CASES = [
    # flag values
    Case("sigma-zero", _certify("ckpt/good.pt", "--sigma", "0"), "--sigma", "--sigma 0"),
    Case("sigma-negative", _certify("ckpt/good.pt", "--sigma", "-1"), "--sigma", "--sigma -1"),
    Case("sigma-nan", _certify("ckpt/good.pt", "--sigma", "nan"), "NaN", "--sigma nan"),
    Case("alpha-above-one", _certify("ckpt/good.pt", "--alpha", "1.5"), "--alpha", "--alpha 1.5"),
    Case("alpha-zero", _certify("ckpt/good.pt", "--alpha", "0"), "--alpha", "--alpha 0"),
    Case("n-zero", _certify("ckpt/good.pt", "--n", "0"), "--n", "--n 0"),
    Case("n-not-integer", _certify("ckpt/good.pt", "--n", "1e5x"), "not an integer", "--n 1e5x"),
    Case("n0-zero", _certify("ckpt/good.pt", "--n0", "0"), "--n0", "--n0 0"),
    Case("skip-zero", _certify("ckpt/good.pt", "--skip", "0"), "--skip", "--skip 0"),
    Case("max-negative", _certify("ckpt/good.pt", "--max", "-1"), "--max", "--max -1"),
    Case("split-unknown", _certify("ckpt/good.pt", "--split", "valid"), "invalid choice", "--split valid"),
    Case("device-unknown", _certify("ckpt/good.pt", "--device", "tpu9"), "unknown device", "--device tpu9"),
    Case("device-unavailable", _certify("ckpt/good.pt", "--device", "cuda:99"), "is not available",
         "--device cuda:99 (no CUDA, or fewer GPUs)", r"not available \((.+)\); use"),
    Case("flag-unknown", _train("--sigm", "0.25"), "did you mean --sigma?", "--sigm, a misspelt flag"),
    Case("flag-abbreviated", _train("--epoch", "3"), "did you mean --epochs?", "--epoch: flags are never abbreviated"),
    Case("command-unknown", ["certfy", "ckpt/good.pt", "--out", "out/new.tsv"], "did you mean certify?",
         "a misspelt subcommand"),
    Case("out-missing", ["certify", "ckpt/good.pt", *FAST], "--out", "no --out"),
    Case("budget-alpha", ["budget", "--n", "100", "--sigma", "1", "--alpha", "2"], "--alpha", "budget --alpha 2"),
    # checkpoint files
    Case("ckpt-missing", _certify("ckpt/missing.pt"), "does not exist", "checkpoint file missing"),
    Case("ckpt-empty", _certify("ckpt/empty.pt"), "not a loadable checkpoint", "checkpoint file empty"),
    Case("ckpt-garbage", _certify("ckpt/garbage.pt"), "not a loadable checkpoint", "checkpoint of random bytes",
         TORCH_TEXT),
    Case("ckpt-truncated", _certify("ckpt/truncated.pt"), "not a loadable checkpoint", "checkpoint cut in half",
         TORCH_TEXT),
    Case("ckpt-not-a-dict", _certify("ckpt/tensor.pt"), "not a smoothcert checkpoint", "torch file of a tensor"),
    Case("ckpt-missing-keys", _certify("ckpt/nokeys.pt"), "missing", "dict without arch, sigma, ..."),
    Case("ckpt-unsafe", _certify("ckpt/malicious.pt"), "not a loadable checkpoint", "pickle that would run code"),
    Case("convert-unsafe", ["convert", "ckpt/malicious.pt", "--out", "ckpt/converted.pt", "--sigma", "0.25"],
         "not a loadable checkpoint", "smoothcert convert on a pickle that would run code"),
    Case("ckpt-no-sigma", _certify("ckpt/standard.pt"), "pass --sigma", "a noise-free classifier, no --sigma"),
    Case("ckpt-nan-weights", _certify("ckpt/nan.pt"), "NaN or infinite", "weights are NaN"),
    Case("ckpt-nan-logits", _certify("ckpt/overflow.pt"), "non-finite logits", "finite weights whose logits are NaN"),
    Case("ckpt-other-arch", _certify("ckpt/otherarch.pt"), "do not fit architecture", "weights of another arch",
         r"'mlp': (.+)$"),
    Case("ckpt-unknown-arch", _certify("ckpt/unknownarch.pt"), "unknown model", "arch nobody registered"),
    Case("ckpt-arch-misfit", _certify("ckpt/lenet4x4.pt"), "does not fit inputs", "lenet recorded for 4x4 inputs"),
    Case("ckpt-num-classes", _certify("ckpt/classes3.pt"), "does not fit", "3 classes, dataset has 4"),
    Case("ckpt-other-dataset", _certify("ckpt/digits.pt", "--dataset", "synthetic"), "does not fit",
         "digits checkpoint on synthetic"),
    Case("ckpt-run-dir-empty", _certify("emptyrun"), "does not exist", "run directory without checkpoint.pt"),
    # datasets
    Case("dataset-unknown", _certify("ckpt/good.pt", "--dataset", "nope"), "unknown dataset", "--dataset nope"),
    Case("mnist-no-files", _certify("ckpt/good.pt", "--dataset", "mnist", "--data-dir", "mnist/empty"),
         "not found", "empty --data-dir"),
    Case("mnist-truncated", _certify("ckpt/good.pt", "--dataset", "mnist", "--data-dir", "mnist/trunc"),
         "truncated", "images file cut short"),
    Case("mnist-bad-magic", _certify("ckpt/good.pt", "--dataset", "mnist", "--data-dir", "mnist/magic"),
         "bad magic number", "a PNG named like the images file"),
    Case("mnist-wrong-dims", _certify("ckpt/good.pt", "--dataset", "mnist", "--data-dir", "mnist/dims"),
         "dimensions", "labels file in place of the images"),
    Case("mnist-bad-gzip", _certify("ckpt/good.pt", "--dataset", "mnist", "--data-dir", "mnist/gzip"),
         "gzip", "truncated .gz", r"gzip file \((.+)\); download"),
    Case("mnist-count-mismatch", _certify("ckpt/good.pt", "--dataset", "mnist", "--data-dir", "mnist/count"),
         "labels", "12 images, 11 labels"),
    Case("mnist-label-range", _certify("ckpt/good.pt", "--dataset", "mnist", "--data-dir", "mnist/labels"),
         "label 10", "label 10 in MNIST"),
    Case("mnist-wrong-shape", _certify("ckpt/good.pt", "--dataset", "mnist", "--data-dir", "mnist/shape"),
         "28x28", "images of 14x14"),
    Case("mnist-for-synthetic-ckpt", _certify("ckpt/good.pt", "--dataset", "mnist", "--data-dir", "mnist/good"),
         "does not fit", "good MNIST, checkpoint of synthetic"),
    Case("cifar-corrupt", _certify("ckpt/good.pt", "--dataset", "cifar10", "--data-dir", "cifar/corrupt"),
         "truncated or corrupt", "test_batch of random bytes", r"corrupt \((.+)\); download"),
    Case("cifar-unsafe", _certify("ckpt/good.pt", "--dataset", "cifar10", "--data-dir", "cifar/unsafe"),
         "was not loaded", "test_batch whose pickle would run code"),
    Case("cifar-wrong-shape", _certify("ckpt/good.pt", "--dataset", "cifar10", "--data-dir", "cifar/shape"),
         "must be a uint8 array", "rows of 100 bytes, not 3072"),
    Case("download-unknown", ["download", "imagenet"], "cannot download", "a dataset that is not downloadable"),
    Case("download-other-file", ["download", "mnist", "--data-dir", "mnist/mine"], "left as it is",
         "a file there that is not the published one"),
    # outputs
    Case("out-under-file", _certify("ckpt/good.pt", out="text.txt/out.tsv"), "cannot write", "--out under a file"),
    Case("out-in-proc", _certify("ckpt/good.pt", out="/proc/smoothcert.tsv"), "cannot write", "--out in /proc"),
    Case("out-is-directory", _certify("ckpt/good.pt", out="out/dir"), "is a directory", "--out a directory"),
    Case("out-other-manifest", _certify("ckpt/good.pt", "--seed", "1", out="out/existing.tsv"), "other settings",
         "rerun with another --seed"),
    Case("out-other-command", ["predict", "ckpt/good.pt", "--out", "out/existing.tsv", "--n", "50", "--max", "2",
                               "--quiet"], "other settings", "predict into a certify TSV"),
    Case("out-no-manifest", _certify("ckpt/good.pt", out="out/orphan.tsv"), "without its manifest",
         "TSV without manifest"),
    Case("out-other-header", _certify("ckpt/good.pt", out="out/header.tsv"), "has header", "TSV of other columns"),
    Case("out-malformed-row", _certify("ckpt/good.pt", out="out/malformed.tsv"), "malformed", "row of 3 fields"),
    Case("out-binary", _certify("ckpt/good.pt", out="out/binary.tsv"), "not a text TSV", "TSV of random bytes"),
    Case("out-bad-manifest", _certify("ckpt/good.pt", out="out/badmeta.tsv"), "unreadable", "manifest not JSON"),
    # training
    Case("train-unknown-method", _train("--method", "nope"), "unknown method", "--method nope"),
    Case("train-unknown-arch", ["train", "--dataset", "synthetic", "--arch", "nope", "--sigma", "0.25", "--out",
                                "newrun", "--quiet"], "unknown model", "--arch nope"),
    Case("train-arch-misfit", ["train", "--dataset", "digits", "--arch", "lenet", "--sigma", "0.25", "--out",
                               "newrun", "--quiet"], "does not fit inputs", "lenet's 5x5 kernels on 8x8 digits"),
    Case("train-unknown-dataset", ["train", "--dataset", "nope", "--arch", "mlp", "--sigma", "0.25", "--out",
                                   "newrun", "--quiet"], "unknown dataset", "--dataset nope"),
    Case("train-missing-sigma", ["train", "--dataset", "synthetic", "--arch", "mlp", "--out", "newrun"],
         "missing sigma", "no --sigma"),
    Case("train-corrupt-yaml", _train("--config", "cfg/corrupt.yaml"), "not valid YAML", "unclosed bracket",
         r"YAML: (.+)$"),
    Case("train-unknown-key", _train("--config", "cfg/unknownkey.yaml"), "unknown config key", "epochz: 3"),
    Case("train-yaml-not-mapping", _train("--config", "cfg/list.yaml"), "mapping", "a YAML list"),
    Case("train-config-missing", _train("--config", "cfg/missing.yaml"), "does not exist", "--config missing"),
    Case("train-config-unknown-recipe", _train("--config", "mnist/gaussian_0.3"), "the mnist recipes",
         "--config names no shipped recipe"),
    Case("train-bad-override", _train("epochs=-3"), "epochs", "epochs=-3"),
    Case("train-malformed-override", _train("epochs"), "key=value", "override without ="),
    Case("train-nested-override", _train("a.b=1"), "nested", "a.b=1"),
    Case("train-exists", _train(out="run"), "--resume", "run directory exists, no --resume"),
    Case("train-resume-other-arch", ["train", "--dataset", "synthetic", "--arch", "digits_cnn", "--sigma", "0.25",
                                     "--out", "run", "--quiet", "--resume"], "resume with those",
         "--resume with another --arch"),
    Case("train-resume-other-settings", ["train", "--dataset", "synthetic", "--arch", "mlp", "--sigma", "0.5",
                                         "--out", "run", "--batch-size", "64", "--quiet", "--resume", "lr=0.05"],
         "other settings", "--resume with another --sigma and lr"),
    Case("train-resume-corrupt", _train("--resume", out="brokenrun"), "not a loadable checkpoint",
         "--resume on a garbage checkpoint.pt", TORCH_TEXT),
    Case("train-stale-log", _train(out="stalerun"), "--resume", "log.csv but no checkpoint"),
    Case("train-out-under-file", _train(out="text.txt/run"), "cannot write", "--out under a file"),
    Case("train-catrs-no-pretrained", _train("--method", "catrs"), "method_args.pretrained",
         "catrs without its pretrained model"),
    Case("train-catrs-pretrained-missing", _train("--method", "catrs", "method_args.pretrained=ckpt/missing.pt"),
         "does not exist", "catrs, pretrained model missing"),
    Case("train-catrs-pretrained-other-dataset", _train("--method", "catrs", "method_args.pretrained=ckpt/digits.pt"),
         "not on synthetic", "catrs, pretrained model of another dataset"),
    Case("train-standard-sigma", ["train", "--dataset", "synthetic", "--arch", "mlp", "--method", "standard",
                                  "--sigma", "0.25", "--out", "newrun"], "takes no sigma", "--method standard --sigma"),
    Case("train-denoiser-method-classifier-arch", _train("--method", "denoise_mse"), "trains a denoiser",
         "--method denoise_mse --arch mlp"),
    Case("train-classifier-method-denoiser-arch", _train_dncnn(), "trains a classifier", "--arch dncnn, gaussian"),
    Case("train-stability-no-classifier", _train_dncnn("denoise_stability"), "method_args.classifier",
         "denoise_stability without a classifier"),
    Case("train-stability-denoiser-as-classifier", _train_dncnn("denoise_stability",
                                                                "method_args.classifier=ckpt/denoiser.pt"),
         "not a classifier", "a denoiser as the classifier"),
    Case("train-stability-classifier-other-data", _train_dncnn("denoise_stability",
                                                               "method_args.classifier=ckpt/digits.pt"),
         "classifier of this dataset", "a classifier of 8x8 digits for 4x4 inputs"),
    Case("train-init-classifier-for-denoiser", _train_dncnn("denoise_mse", "init=ckpt/good.pt"),
         "not a denoiser", "init= a classifier"),
    # analysis
    Case("analyze-missing", ["analyze", "out/missing.tsv"], "missing.tsv", "TSV missing"),
    Case("analyze-not-tsv", ["analyze", "text.txt"], "text.txt", "a text file"),
]


SECTIONS = {"sigma-zero": "Flag values", "ckpt-missing": "Checkpoint files", "dataset-unknown": "Datasets",
            "out-under-file": "Output files", "train-unknown-method": "Training", "analyze-missing": "Analysis"}


def _idx(array: np.ndarray, code: int = 0x08) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _checkpoints(ckpt: Path) -> None:
    ckpt.mkdir()
    torch.manual_seed(0)
    model = create_model("mlp", 4, (1, 4, 4), (0.5,), (0.25,))
    meta = {"arch": "mlp", "dataset": "synthetic", "num_classes": 4, "input_shape": [1, 4, 4], "mean": [0.5],
            "std": [0.25], "sigma": 0.25, "method": "gaussian", "epoch": 1}
    state = model.state_dict()
    save_checkpoint(ckpt / "good.pt", {**meta, "state_dict": state})
    raw = (ckpt / "good.pt").read_bytes()
    (ckpt / "empty.pt").write_bytes(b"")
    (ckpt / "garbage.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    (ckpt / "truncated.pt").write_bytes(raw[: len(raw) // 2])
    torch.save(torch.zeros(3), ckpt / "tensor.pt")
    torch.save({"state_dict": state}, ckpt / "nokeys.pt")
    torch.save({**meta, "state_dict": state, "note": RunsCode()}, ckpt / "malicious.pt")
    nan = {k: torch.full_like(v, float("nan")) if k.startswith("1.") else v for k, v in state.items()}
    save_checkpoint(ckpt / "nan.pt", {**meta, "state_dict": nan})
    # Finite weights, NaN logits: hidden unit i is sign_i * 3e38 * sum(x) = +-inf (float32 overflow), and each
    # output adds two +inf units with weights +1e38 and -1e38: inf - inf = NaN (whatever the sign of sum(x)).
    overflow = dict(state)
    overflow["1.1.weight"] = 3e38 * torch.tensor([1.0, -1.0]).repeat(32).view(64, 1).expand(64, 16).clone()
    overflow["1.1.bias"] = torch.zeros(64)
    overflow["1.3.weight"] = 1e38 * torch.tensor([1.0, 1.0, -1.0, -1.0]).repeat(16).expand(4, 64).clone()
    save_checkpoint(ckpt / "overflow.pt", {**meta, "state_dict": overflow})
    digits_cnn = create_model("digits_cnn", 4, (1, 4, 4)).state_dict()
    save_checkpoint(ckpt / "otherarch.pt", {**meta, "state_dict": digits_cnn})
    save_checkpoint(ckpt / "unknownarch.pt", {**meta, "arch": "nope", "state_dict": state})
    save_checkpoint(ckpt / "lenet4x4.pt", {**meta, "arch": "lenet", "state_dict": state})
    three = create_model("mlp", 3, (1, 4, 4), (0.5,), (0.25,)).state_dict()
    save_checkpoint(ckpt / "classes3.pt", {**meta, "num_classes": 3, "state_dict": three})
    digits = create_model("mlp", 10, (1, 8, 8), (0.3,), (0.4,)).state_dict()
    save_checkpoint(ckpt / "digits.pt", {**meta, "dataset": "digits", "num_classes": 10, "input_shape": [1, 8, 8],
                                         "state_dict": digits})
    save_checkpoint(ckpt / "standard.pt", {**meta, "method": "standard", "sigma": None, "state_dict": state})
    denoiser = create_model("dncnn", 4, (1, 4, 4), depth=2).state_dict()
    save_checkpoint(ckpt / "denoiser.pt", {**meta, "arch": "dncnn", "arch_args": {"depth": 2}, "mean": [0.0],
                                           "std": [1.0], "method": "denoise_mse", "role": "denoiser",
                                           "state_dict": denoiser})
    assert load_checkpoint(ckpt / "good.pt")["arch"] == "mlp"


def _mnist(root: Path) -> None:
    images, labels = write_mnist(root / "good")
    (root / "empty").mkdir()
    (root / "mine").mkdir()
    (root / "mine" / "train-images-idx3-ubyte.gz").write_bytes(b"my own file, not MNIST")
    write_mnist(root / "trunc", compress=False)
    trunc = root / "trunc" / "t10k-images-idx3-ubyte"
    trunc.write_bytes(trunc.read_bytes()[:1000])
    write_mnist(root / "magic", compress=False)
    (root / "magic" / "t10k-images-idx3-ubyte").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    write_mnist(root / "dims", compress=False)
    shutil.copy(root / "dims" / "t10k-labels-idx1-ubyte", root / "dims" / "t10k-images-idx3-ubyte")
    write_mnist(root / "gzip")
    whole = (root / "gzip" / "t10k-images-idx3-ubyte.gz").read_bytes()
    (root / "gzip" / "t10k-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])
    write_mnist(root / "count", compress=False)
    (root / "count" / "t10k-labels-idx1-ubyte").write_bytes(_idx(labels[:11]))
    write_mnist(root / "labels", compress=False)
    (root / "labels" / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.full(12, 10)))
    write_mnist(root / "shape", compress=False)
    (root / "shape" / "t10k-images-idx3-ubyte").write_bytes(_idx(images[:, :14, :14]))
    assert gzip.decompress((root / "good" / "t10k-labels-idx1-ubyte.gz").read_bytes())[:2] == b"\0\0"


def _cifar(root: Path) -> None:
    (root / "corrupt").mkdir(parents=True)
    (root / "corrupt" / "test_batch").write_bytes(np.random.default_rng(1).bytes(5000))
    (root / "unsafe").mkdir()
    (root / "unsafe" / "test_batch").write_bytes(pickle.dumps({"data": RunsCode(), "labels": [0]}, protocol=2))
    (root / "shape").mkdir()
    items = _str(b"labels") + b"](K\x00K\x01e" + _str(b"data") + _uint8_array(np.zeros((2, 100), dtype=np.uint8))
    (root / "shape" / "test_batch").write_bytes(b"\x80\x02}(" + items + b"u.")


def build_world(root: Path, run_cli: Callable[..., Result]) -> Path:
    """Create every broken input under ``root``; ``run_cli`` trains and certifies the valid ones."""
    root.mkdir(parents=True, exist_ok=True)
    _checkpoints(root / "ckpt")
    _mnist(root / "mnist")
    _cifar(root / "cifar")
    (root / "emptyrun").mkdir()
    (root / "text.txt").write_text("a regular file, not a directory\n")
    cfg = root / "cfg"
    cfg.mkdir()
    (cfg / "corrupt.yaml").write_text("epochs: [1, 2\nlr: 0.1\n")
    (cfg / "unknownkey.yaml").write_text("epochz: 3\n")
    (cfg / "list.yaml").write_text("- 1\n- 2\n")
    result = run_cli(["train", "--dataset", "synthetic", "--arch", "mlp", "--sigma", "0.25", "--out", "run",
                      "--epochs", "1", "--batch-size", "64", "--quiet"], cwd=root)
    assert result.returncode == 0, result.stderr
    (root / "brokenrun").mkdir()
    (root / "brokenrun" / "checkpoint.pt").write_bytes(b"PK\x03\x04 not really a zip")
    (root / "stalerun").mkdir()
    (root / "stalerun" / "log.csv").write_text("epoch,lr,loss\n")
    out = root / "out"
    result = run_cli(["certify", "ckpt/good.pt", "--out", "out/existing.tsv", *FAST], cwd=root)
    assert result.returncode == 0, result.stderr
    existing, manifest = (out / "existing.tsv").read_text(), (out / "existing.tsv.json").read_text()
    (out / "orphan.tsv").write_text(existing)
    for name, body in (("header", "a\tb\tc\n"), ("malformed", existing + "7\t1\t2\n"), ("binary", None)):
        if body is None:
            (out / f"{name}.tsv").write_bytes(b"\xff\xfe\x00" + np.random.default_rng(2).bytes(300) + b"\n")
        else:
            (out / f"{name}.tsv").write_text(body)
        (out / f"{name}.tsv.json").write_text(manifest)
    (out / "badmeta.tsv").write_text(existing)
    (out / "badmeta.tsv.json").write_text("{ not json")
    (out / "dir").mkdir()
    return root


def documented(case: Case, message: str) -> str:
    """``message`` as ``docs/errors.md`` quotes it: a library's own words (``case.elide``) become "…"."""
    if not case.elide:
        return message
    found = re.search(case.elide, message)
    assert found, f"{case.id}: {case.elide!r} does not match {message!r}"
    return message[: found.start(1)] + "…" + message[found.end(1):]


def matches_doc(doc_line: str, message: str) -> bool:
    """Whether ``message`` is the documented line (each "…" stands for any text)."""
    return re.fullmatch(".+".join(re.escape(part) for part in doc_line.split("…")), message) is not None


def doc_entries(text: str) -> dict[str, str]:
    """Case id -> documented ``error:`` line, read from ``docs/errors.md``."""
    entries: dict[str, str] = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        case_id = block.split("`")[1]
        lines = [line for line in block.splitlines() if line.startswith("error: ")]
        entries[case_id] = lines[0] if lines else ""
    return entries


def render_catalogue(messages: dict[str, str]) -> str:
    """The catalogue part of ``docs/errors.md`` for the measured ``messages`` (id -> stderr line)."""
    parts = []
    for case in CASES:
        if case.id in SECTIONS:
            parts.append(f"## {SECTIONS[case.id]}\n")
        command = " ".join(("smoothcert", *(f"'{a}'" if " " in a or not a else a for a in case.argv)))
        parts.append(f"### `{case.id}`: {case.what}\n\n```\n$ {command}\n{documented(case, messages[case.id])}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":  # python -m tests.integration._bad_inputs: print the catalogue from a fresh run
    import sys
    import tempfile

    from tests.integration._cli_server import CliServer

    server = CliServer()
    with tempfile.TemporaryDirectory() as tmp:
        world = build_world(Path(tmp) / "world", server.run)
        found = {}
        for case in CASES:
            shutil.rmtree(Path(tmp) / "case", ignore_errors=True)
            shutil.copytree(world, Path(tmp) / "case")
            found[case.id] = server.run(case.argv, cwd=Path(tmp) / "case").stderr.strip()
    server.close()
    sys.stdout.write(render_catalogue(found))
