"""The demo's mechanism figure: one cart frame and one runner frame, reconstructed by each method.

    python experiments/demo/figure.py DEMO_DIR [--seed 0] [--out docs/images/demo_mechanism.png]

``DEMO_DIR`` is one ``outputs/demo/<time>/`` folder of ``python -m lnta.demo``. The frames are chosen by a
rule fixed in advance, not by their errors: in the first cart video and the first runner video, the scored
frame with the most intruder pixels (the generator's region masks). One row per frame: the input, then each method's
reconstruction and its squared error (one colour scale for all errors of a row).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lnta.data.labels.formats import ANOMALY, REGION_FILE
from lnta.data.sampling import REFERENCE_CENTER
from lnta.data.synthetic import TEST_KINDS
from lnta.trainer.build import module_from_checkpoint
from lnta.trainer.checkpoint import CONFIG_KEY, load_checkpoint

METHODS = ("baseline", "patch", "skip")


def pick_frame(regions: np.ndarray, clip_len: int = 16, center: int = REFERENCE_CENTER) -> int:
    """The scored frame (one with a full clip around it) with the most intruder pixels."""
    counts = (regions == ANOMALY).reshape(len(regions), -1).sum(1)
    scored = np.arange(center, len(regions) - (clip_len - 1 - center))
    return int(scored[np.argmax(counts[scored])])


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/images/demo_mechanism.png"))
    a = parser.parse_args()
    modules = {}
    for method in METHODS:
        checkpoint = load_checkpoint(a.demo / method / f"seed{a.seed}" / "checkpoints" / "last.ckpt")
        modules[method] = module_from_checkpoint(checkpoint).eval()
    root = Path(checkpoint[CONFIG_KEY]["data"]["root"])
    regions = np.load(root / REGION_FILE)
    videos = sorted(regions.files)
    chosen = [(kind, videos[TEST_KINDS.index(kind)]) for kind in TEST_KINDS]
    fig, axes = plt.subplots(len(chosen), 1 + 2 * len(METHODS), figsize=(2.1 * (1 + 2 * len(METHODS)), 2.4 * len(chosen)))
    for row, (kind, video) in enumerate(chosen):
        frame = pick_frame(regions[video])
        start = frame - REFERENCE_CENTER
        files = [root / "testing" / "frames" / video / f"{i:03d}.jpg" for i in range(start, start + 16)]
        clip = torch.from_numpy(np.stack([np.asarray(Image.open(f).convert("L"), np.float32) for f in files]))
        clip = (clip / 127.5 - 1.0)[None, None]
        target = clip[0, 0, REFERENCE_CENTER].numpy()
        axes[row, 0].imshow(target, cmap="gray", vmin=-1, vmax=1)
        axes[row, 0].set_title(f"{kind}: video {video}, frame {frame}", fontsize=8)
        errors = {}
        for i, method in enumerate(METHODS):
            with torch.no_grad():
                recon = modules[method](clip)[0, 0, REFERENCE_CENTER].numpy()
            errors[method] = (recon - target) ** 2
            axes[row, 1 + i].imshow(recon, cmap="gray", vmin=-1, vmax=1)
            axes[row, 1 + i].set_title(f"{method}: reconstruction", fontsize=8)
        top = max(float(e.max()) for e in errors.values())
        for i, method in enumerate(METHODS):
            inside = errors[method][regions[video][frame] == ANOMALY].mean()
            axes[row, 1 + len(METHODS) + i].imshow(errors[method], cmap="jet", vmin=0, vmax=top)
            axes[row, 1 + len(METHODS) + i].set_title(f"{method}: error\n({kind}: {10 * np.log10(1 / inside):.1f} dB)",
                                                       fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=80)
    print(a.out)


if __name__ == "__main__":
    main()
