"""Run the authors' public code (aseuteurideu/LearningNotToReconstructAnomalies) unmodified on a CPU.

Nothing of their code is here: a user points ``clone`` at their own checkout. What this module
provides is the environment their scripts expect, without editing a line of them:

- ``torch.Tensor.cuda`` / ``nn.Module.cuda`` become no-ops (their scripts call ``.cuda()``
  everywhere; ``nn.DataParallel`` without GPUs calls the wrapped module directly);
- ``torch.load`` defaults to ``weights_only=False``, as in the torch they wrote for, because their
  checkpoints pickle the whole model. Use it only on files their own training wrote;
- a stand-in for the few ``torchvision`` pieces they import (the PyPI torchvision wheels are built
  for CUDA torch and do not load against a CPU-only torch): ``transforms.Compose``, ``ToTensor``,
  ``ToPILImage``, ``Grayscale``, ``Normalize``, ``datasets.cifar.CIFAR100`` (the python pickle),
  ``utils``. Each one follows torchvision's documented behaviour for the inputs their code passes;
- :func:`seed_everything` seeds Python, NumPy and torch (their scripts take no seed).

Usage as a launcher: ``python authors_env.py --clone DIR --seed N SCRIPT.py [their args...]`` runs
``SCRIPT.py`` from inside ``DIR`` (their scripts read ``./data/...`` and write ``./exp/...``).
"""
from __future__ import annotations

import argparse
import importlib.machinery
import os
import pickle
import random
import runpy
import sys
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    """torchvision's ToTensor: HxW(xC) ndarray or PIL image -> (C, H, W); uint8 is divided by 255,
    other dtypes are kept as they are."""

    def __call__(self, pic):
        if isinstance(pic, Image.Image):
            pic = np.array(pic, copy=True)
        if pic.ndim == 2:
            pic = pic[:, :, None]
        tensor = torch.from_numpy(np.ascontiguousarray(pic.transpose(2, 0, 1)))
        return tensor.float().div(255) if tensor.dtype == torch.uint8 else tensor


class ToPILImage:
    """torchvision's ToPILImage for a float (C, H, W) tensor in [0, 1]: ``mul(255).byte()`` (truncates)."""

    def __call__(self, pic):
        array = pic.mul(255).byte().numpy().transpose(1, 2, 0)
        return Image.fromarray(array[:, :, 0], "L") if array.shape[2] == 1 else Image.fromarray(array, "RGB")


class Grayscale:
    """torchvision's Grayscale on a PIL image: ``convert("L")`` (ITU-R 601-2 luma)."""

    def __init__(self, num_output_channels: int = 1):
        if num_output_channels != 1:
            raise NotImplementedError("stand-in: only num_output_channels=1")

    def __call__(self, img):
        return img.convert("L")


class Normalize:
    def __init__(self, mean, std):
        self.mean, self.std = torch.tensor(mean), torch.tensor(std)

    def __call__(self, tensor):
        return (tensor - self.mean[:, None, None]) / self.std[:, None, None]


def _unsupported(name):
    class Unsupported:
        def __init__(self, *args, **kwargs):
            raise NotImplementedError(f"torchvision stand-in: {name} is not provided (not needed by the "
                                      "baseline, skip-frame and CIFAR patch runs)")
    Unsupported.__name__ = name
    return Unsupported


class CIFAR100(torch.utils.data.Dataset):
    """The CIFAR-100 python pickle ``root/cifar-100-python/train`` as (image, fine label) pairs;
    images are PIL RGB (as torchvision's), passed through ``transform``."""

    def __init__(self, root, train: bool = True, transform=None, download: bool = False):
        path = Path(root) / "cifar-100-python" / ("train" if train else "test")
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        self.data = entry["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.targets = entry["fine_labels"]
        self.transform = transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img = Image.fromarray(self.data[index])
        return (self.transform(img) if self.transform else img), self.targets[index]


def install() -> None:
    """Install the CPU environment described above into this process (and forked workers)."""
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    load = torch.load

    def trusted_load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        kwargs.setdefault("map_location", "cpu")
        return load(*args, **kwargs)

    torch.load = trusted_load
    tv = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    for cls in (Compose, ToTensor, ToPILImage, Grayscale, Normalize):
        setattr(transforms, cls.__name__, cls)
    for name in ("RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomResizedCrop"):
        setattr(transforms, name, _unsupported(name))
    datasets = types.ModuleType("torchvision.datasets")
    cifar = types.ModuleType("torchvision.datasets.cifar")
    cifar.CIFAR100 = CIFAR100
    datasets.cifar, datasets.CIFAR100, datasets.ImageFolder = cifar, CIFAR100, _unsupported("ImageFolder")
    utils = types.ModuleType("torchvision.utils")
    tv.transforms, tv.datasets, tv.utils = transforms, datasets, utils
    for module in (tv, transforms, datasets, cifar, utils):  # importlib.util.find_spec needs a spec
        module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)
    sys.modules.update({"torchvision": tv, "torchvision.transforms": transforms, "torchvision.datasets": datasets,
                        "torchvision.datasets.cifar": cifar, "torchvision.utils": utils})


def import_from(clone: str | Path):
    """Make ``clone``'s modules importable (``model.utils``, ``model.autoencoder`` ...)."""
    install()
    clone = str(Path(clone).resolve())
    if clone not in sys.path:
        sys.path.insert(0, clone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--clone", required=True, help="a checkout of the authors' repository")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 1)))
    parser.add_argument("script", help="train.py or evaluate.py; everything after it goes to that script")
    argv = sys.argv[1:]
    cut = next((i + 1 for i, a in enumerate(argv) if a.endswith(".py")), len(argv))
    args, rest = parser.parse_args(argv[:cut]), argv[cut:]
    clone = Path(args.clone).resolve()
    if not (clone / args.script).is_file():
        sys.exit(f"error: --clone={clone}: no {args.script} there; expected a checkout of the authors' code")
    torch.set_num_threads(args.threads)
    import_from(clone)
    os.chdir(clone)
    seed_everything(args.seed)
    sys.argv = [str(clone / args.script), *rest]
    runpy.run_path(str(clone / args.script), run_name="__main__")


if __name__ == "__main__":
    main()
