"""Differential check: lnta against the authors' code on real Ped2, same inputs and same random draws.

    python experiments/reference_check/check.py --clone PATH [--data ../shared/datasets/ped2] [--size 64]

``PATH`` is a user's checkout of aseuteurideu/LearningNotToReconstructAnomalies; nothing of it is in
lnta. Their modules are imported from there at run time inside a CPU environment
(:mod:`authors_env`: cuda no-ops, a torchvision stand-in). Run it with a Python that has lnta's
dependencies plus ``opencv-python-headless`` and ``scikit-learn`` (``pip install -e '.[reference]'``).

Compared, with every random draw of both sides scripted to the same values:

1. a training clip for a given (video, start) after resize and scaling;
2. skip-frame pairs (frame indices, the draws made, the clips), including re-draws, the clamp after
   10 failed re-draws and the boundary ``num_frames == start + 15 s``;
3. SmoothMixS: patch size and centre walk, the mask and the patched clip;
4. one training step with skip + patch pseudo samples: inputs, targets, loss, gradients, the
   batch-norm statistics and the weights after one Adam step (lnta's side built from the shipped
   ``ped2_skip`` / ``ped2_patch`` experiment configs);
5. per-frame test PSNRs of one test video for the same weights.

Prints a table and exits 0 when every row is within its tolerance, 1 otherwise, 2 on bad input.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for _path in (str(HERE), str(REPO)):  # this checkout's lnta first, then authors_env beside this file
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lnta.data.datamodule  # noqa: E402,F401 - Lightning and lnta's data and model modules load before
import lnta.models.module  # noqa: E402,F401 - the torchvision stand-in exists (they probe for torchvision)
from lnta.data.transforms import to_unit  # noqa: E402
from lnta.errors import LntaError  # noqa: E402

#: One grey level in [-1, 1] units (frames are ``x / 127.5 - 1``).
GREY = 1 / 127.5
CLIP_LEN = 16
#: The authors' side runs with the settings of their run in issue 11 (their train.py flags
#: ``--batch_size 4 --lr 1e-4 --pseudo_anomaly_jump_inpainting 0.2 --jump 2 3 4 5`` and
#: ``--pseudo_anomaly_cifar_inpainting_smoothborder 0.2 --max_size 0.5 --max_move 10``, 16-frame clips).
AUTHORS = {"batch_size": 4, "clip_len": 16, "lr": 1e-4, "p_skip": 0.2, "skips": [2, 3, 4, 5],
           "p_patch": 0.2, "alpha": 0.5, "beta": 10}


# ----------------------------------------------------------------------------------------- helpers

@dataclass
class Row:
    """One compared quantity: its largest absolute difference and the tolerance it must meet."""

    what: str
    diff: float
    tol: float
    unit: str = ""     # "grey": grey levels (shown also in [-1, 1] units); "[-1,1]": the reverse
    note: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.diff <= self.tol)   # NaN (a failed comparison) is never ok

    def cell(self, value: float) -> str:
        if math.isnan(value):
            return "failed"
        if self.unit == "grey":
            return f"{value:g} grey level{'' if value == 1 else 's'} ({value * GREY:.3g} in [-1,1])"
        if self.unit == "[-1,1]":
            return f"{value:.3g} ({value / GREY:.2g} grey levels)"
        return f"{value:.3g}{' ' + self.unit if self.unit else ''}"


def format_table(rows: list[Row]) -> str:
    """A Markdown table: what was compared, max |diff|, tolerance, equal within tolerance?, note."""
    lines = ["| compared | max abs diff | tolerance | equal within tolerance? | note |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.what} | {r.cell(r.diff)} | {r.cell(r.tol)} | {'yes' if r.ok else 'NO'} | {r.note} |")
    return "\n".join(lines)


class ScriptError(RuntimeError):
    """A side drew a random number the scenario did not script (a different number of draws)."""


class ScriptedDraws:
    """Random functions replaced by queues of scripted values inside :meth:`patch`; every call is recorded.

    ``ScriptedDraws(randint=[3, 7])`` then ``with draws.patch(randint=(np.random, "randint")): ...``
    makes ``np.random.randint(...)`` return 3, then 7, then raise :class:`ScriptError`.
    ``calls`` lists ``(name, args, kwargs)``; ``left()`` the values not drawn.
    """

    def __init__(self, **queues):
        self.queues = {name: list(values) for name, values in queues.items()}
        self.calls: list[tuple[str, tuple, dict]] = []

    def draw(self, name: str, *args, **kwargs):
        self.calls.append((name, args, kwargs))
        if not self.queues.get(name):
            raise ScriptError(f"unscripted draw {name}{args} (after {len(self.calls) - 1} draws)")
        return self.queues[name].pop(0)

    def args(self, name: str) -> list[tuple]:
        return [a for n, a, _ in self.calls if n == name]

    def left(self) -> dict[str, list]:
        return {name: values for name, values in self.queues.items() if values}

    @contextlib.contextmanager
    def patch(self, **targets):
        """``name=(owner, attribute)``: ``owner.attribute`` draws from queue ``name`` inside the block."""
        saved = []
        try:
            for name, (owner, attribute) in targets.items():
                saved.append((owner, attribute, getattr(owner, attribute)))
                setattr(owner, attribute, lambda *a, _name=name, **k: self.draw(_name, *a, **k))
            yield self
        finally:
            for owner, attribute, value in reversed(saved):
                setattr(owner, attribute, value)


@contextlib.contextmanager
def swapped(owner, attribute: str, value):
    """``owner.attribute = value`` inside the block."""
    old = getattr(owner, attribute)
    setattr(owner, attribute, value)
    try:
        yield
    finally:
        setattr(owner, attribute, old)


def flat_clip_index(lengths: list[int], video: int, start: int, clip_len: int = CLIP_LEN) -> int:
    """Index of clip ``(video, start)`` among every stride-1 clip of the videos, in video order."""
    if not 0 <= start <= lengths[video] - clip_len:
        raise ValueError(f"start {start} outside 0..{lengths[video] - clip_len} for a {lengths[video]}-frame video")
    return sum(max(0, n - clip_len + 1) for n in lengths[:video]) + start


def unit_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """The uint8 frames whose ``x / 127.5 - 1`` is exactly ``x``; ValueError when ``x`` is not on that grid."""
    k = torch.round((x.double() + 1) * 127.5)
    if k.min() < 0 or k.max() > 255 or not torch.equal(to_unit(k.to(torch.uint8)), x.float()):
        raise ValueError("values are not x / 127.5 - 1 of uint8 frames")
    return k.to(torch.uint8)


def max_abs(a, b) -> float:
    a, b = torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a), torch.as_tensor(
        np.asarray(b) if not torch.is_tensor(b) else b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


@contextlib.contextmanager
def first_rand(values: torch.Tensor):
    """The first ``torch.rand`` call inside the block returns ``values`` (later calls are real draws);
    yields the list of the sizes it was called with."""
    real, sizes = torch.rand, []

    def rand(*size, **kwargs):
        sizes.append(size)
        return values.clone().to(kwargs.get("device") or "cpu") if len(sizes) == 1 else real(*size, **kwargs)

    torch.rand = rand
    try:
        yield sizes
    finally:
        torch.rand = real


# ---------------------------------------------------------------------------------- the two sides

class Sides:
    """The authors' modules and datasets, and lnta's data module, anomalies and model config."""

    def __init__(self, clone: Path, data: Path, size: int, cifar: Path | None, seed: int):
        self.size, self.seed = size, seed
        self._load_authors(clone, data)
        self._load_lnta(data, size, cifar)

    def _load_authors(self, clone: Path, data: Path) -> None:
        import authors_env
        os.environ.setdefault("MPLBACKEND", "Agg")
        missing = [f for f in ("utils.py", "model/utils.py", "model/autoencoder.py", "model/pseudoanomaly_utils.py")
                   if not (clone / f).is_file()]
        if missing:
            raise LntaError(f"--clone={clone}: no {', '.join(missing)} there; expected a checkout of "
                            "aseuteurideu/LearningNotToReconstructAnomalies")
        authors_env.import_from(clone)
        try:
            import model.autoencoder as ae
            import model.pseudoanomaly_utils as pau
            import model.utils as mu
            import utils as their_utils
        except ImportError as exc:
            raise LntaError(f"--clone={clone}: their modules do not import ({exc}); this Python needs "
                            "opencv-python-headless and scikit-learn (pip install -e '.[reference]')") from None
        for module in (ae, pau, mu, their_utils):
            if clone not in Path(module.__file__).resolve().parents:
                raise LntaError(f"--clone={clone}: '{module.__name__}' was imported from {module.__file__}, not the clone")
        self.ae, self.pau, self.mu, self.their_utils = ae, pau, mu, their_utils
        self.tv = sys.modules["torchvision.transforms"]
        self.random, self.np_random = random, np.random
        transform = self.tv.Compose([self.tv.ToTensor()])
        train, test = data / "training" / "frames", data / "testing" / "frames"
        for folder in (train, test):
            if not folder.is_dir():
                raise LntaError(f"--data={data}: no {folder.relative_to(data)} folder (expected the frames layout "
                                "training/frames/<video>/<n>.jpg, testing/frames/...)")
        kw = dict(resize_height=self.size, resize_width=self.size, dataset="ped2", img_extension=".jpg")
        self.train = mu.Reconstruction3DDataLoader(str(train), transform, **kw)
        self.test = mu.Reconstruction3DDataLoader(str(test), transform, **kw)
        self.jump = mu.Reconstruction3DDataLoaderJump(str(train), transform, jump=list(AUTHORS["skips"]),
                                                      return_normal_seq=True, **kw)

    def _load_lnta(self, data: Path, size: int, cifar: Path | None) -> None:
        from hydra import compose, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.hydra_config import HydraConfig
        from hydra.utils import instantiate

        from lnta.anomaly.switch import anomalies_from_config
        from lnta.train import build_datamodule
        from lnta.trainer.precision import resolve_speed

        def experiment(name: str, *extra: str):
            GlobalHydra.instance().clear()
            with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
                cfg = compose("train", overrides=[f"+experiment={name}", f"data.root={data}",
                                                  f"data.image_size={size}", "data.num_workers=0", *extra],
                              return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)
            return cfg

        skip_cfg = experiment("ped2_skip")
        intruder = ([f"anomaly.intruder.path={cifar}", "anomaly.intruder.split=test"] if cifar else
                    ["anomaly.intruder.source=synthetic", "anomaly.intruder.path=null"])
        patch_cfg = experiment("ped2_patch", *intruder)
        (self.skip,), (self.patch,) = anomalies_from_config(skip_cfg.anomaly), anomalies_from_config(patch_cfg.anomaly)
        # lnta.train's own data module: the skip pairs come from the skip-frame type, as in a training run
        self.datamodule = build_datamodule(skip_cfg, resolve_speed("exact", "cpu"), [self.skip])
        self.model_cfg, self.optimizer = skip_cfg.model, instantiate(skip_cfg.optimizer)
        self.instantiate = instantiate
        self.train_store, self.test_store = self.datamodule.store("train"), self.datamodule.store("test")
        self.cifar = cifar
        self.intruder_source = f"the CIFAR test split in {cifar}" if cifar else "lnta's synthetic intruders"

    # -- inputs --------------------------------------------------------------------------------

    def their_names(self, dataset) -> list[str]:
        return list(dataset.videos)

    def their_clip(self, name: str, start: int) -> torch.Tensor:
        """Their training item for (video, start): float32 (1, T, H, W)."""
        names = self.their_names(self.train)
        i = flat_clip_index([self.train.videos[n]["length"] for n in names], names.index(name), start)
        path = Path(self.train.samples[i])
        assert (path.parent.name, int(path.stem)) == (name, start), (path, name, start)
        return torch.from_numpy(self.train[i])

    def lnta_clip(self, name: str, start: int) -> torch.Tensor:
        """lnta's training item for (video, start) through TrainClips: uint8 (1, T, H, W)."""
        from lnta.data.datasets import TrainClips
        clips = TrainClips(self.train_store, CLIP_LEN)
        (i,) = np.nonzero((clips.videos == self.train_store.names.index(name)) & (clips.starts == start))[0]
        return clips[int(i)]["clip"]

    def intruder_rgb(self, k: int) -> torch.Tensor:
        """Intruder ``k`` as their CIFAR loader yields it: ToTensor of the RGB image, (3, 32, 32) in [0, 1]."""
        from PIL import Image

        from lnta.anomaly.intruders.sources import _cifar_files, read_cifar_batch
        if self.cifar is None:   # lnta's synthetic intruders: R = G = B, whose luma is the grey value exactly
            rgb = np.repeat(self.patch.augment.intruders.images[k].numpy()[:, :, None], 3, axis=2)
        else:
            batch = read_cifar_batch(_cifar_files(self.cifar, "test")[0])
            rgb = batch[b"data"][k].reshape(3, 32, 32).transpose(1, 2, 0)
        return self.tv.ToTensor()(Image.fromarray(np.ascontiguousarray(rgb), "RGB"))

    def their_skip_pair(self, name: str, start: int, s: int, redraws: list[int]):
        """Their jump item with ``random.choice`` -> s and ``np.random.randint`` -> ``redraws``.
        Returns (skip clip, normal clip, skip indices, normal indices, draws)."""
        names = self.their_names(self.jump)
        files = self.jump.videos[name]["frame"]
        i = flat_clip_index([self.jump.videos[n]["length"] for n in names], names.index(name), start)
        loads, real = [], self.mu.np_load_frame
        draws = ScriptedDraws(choice=[s], randint=list(redraws))
        with draws.patch(choice=(self.random, "choice"), randint=(self.np_random, "randint")), \
                swapped(self.mu, "np_load_frame", lambda f, *a, **k: loads.append(f) or real(f, *a, **k)):
            skip, normal = self.jump[i]
        index = np.array([files.index(f) for f in loads])
        return torch.from_numpy(skip), torch.from_numpy(normal), index[:CLIP_LEN], index[CLIP_LEN:], draws

    def skip_rule(self):
        """The skip-pair rule the training data module applies to every item (the skip-frame type's own)."""
        from lnta.data.sampling import SkipPairs
        return next((r for r in self.datamodule.clip_rules if isinstance(r, SkipPairs)), SkipPairs(()))

    def lnta_skip_pair(self, name: str, start: int, s: int, redraws: list[int]):
        """The data module's skip-pair rule fed the same scripted randint (s as its index in the skip set,
        then the re-draws); returns (skip indices, target indices, s, draws)."""
        rule = self.skip_rule()
        skips = list(rule.skips)
        if s not in skips:
            raise ScriptError(f"s={s} is not in lnta's skip set {skips}")
        draws = ScriptedDraws(randint=[skips.index(s), *redraws])
        length = self.train_store.lengths[self.train_store.names.index(name)]
        item = rule(start, self.datamodule.clip_len, length, lambda n: draws.draw("randint", n))
        return item["skip_index"], item["target_index"], item["skip"], draws

    def their_patch(self, clip: torch.Tensor, intruder_rgb: torch.Tensor, case: "PatchCase"):
        """Their SmoothMixS (CIFAR path) with every draw scripted; returns (patched, mask, mask calls, draws)."""
        randint = [*case.start] + [int(v) for step in case.steps for v in step]
        draws = ScriptedDraws(randint=randint, uniform=[case.u[0] * case.alpha, case.u[1] * case.alpha],
                              beta=[0.5] * CLIP_LEN)
        mask_calls, real = [], self.pau._get_smoothborder_mask
        with draws.patch(randint=(self.np_random, "randint"), uniform=(self.np_random, "uniform"),
                         beta=(self.np_random, "beta"), rrandint=(self.random, "randint")), \
                swapped(self.pau, "_get_smoothborder_mask",
                        lambda *a: mask_calls.append(a) or real(*a)):
            patched, mask = self.pau.create_pseudoanomaly_cifar_smoothborder(
                clip.clone(), intruder_rgb, case.alpha, self.size, self.size, "ped2", max_move=case.beta)
        return patched, mask, mask_calls, draws

    def lnta_patch_params(self, case: "PatchCase", k: int) -> dict:
        """lnta's size rule and centre walk on the scripted draws: PatchMix3D parameters for one sample."""
        from lnta.anomaly.masks import centre_walk, patch_sizes
        u = torch.tensor(case.u, dtype=torch.float32)
        size = torch.stack([patch_sizes(u[:1], case.alpha, self.size), patch_sizes(u[1:], case.alpha, self.size)], 1)
        centres = centre_walk(torch.tensor([case.start]), torch.tensor([case.steps]), torch.tensor([self.size] * 2))
        return {"size": size, "centres": centres, "intruder_index": torch.tensor([k])}

    def models(self):
        """Their convAE (in nn.DataParallel, as their train.py) at ``seed`` and lnta's model from the
        experiment config holding the same weights (lnta.convert's key mapping)."""
        from lnta.deploy.authors_weights import to_lnta_keys
        torch.manual_seed(self.seed)
        theirs = torch.nn.DataParallel(self.ae.convAE())
        ours = self.instantiate(self.model_cfg)
        ours.load_state_dict(to_lnta_keys(theirs.state_dict()), strict=True)
        return theirs, ours


@dataclass
class PatchCase:
    name: str
    start: tuple[int, int]            # centre of frame 0 (x, y)
    u: tuple[float, float]            # uniform draws in [0, 1) for width and height
    steps: list[tuple[int, int]]      # the move drawn at each of the 16 frames (x, y)
    alpha: float = AUTHORS["alpha"]
    beta: int = AUTHORS["beta"]


def patch_cases(size: int) -> list[PatchCase]:
    walk = np.random.default_rng(1).integers(-10, 11, (CLIP_LEN, 2)).tolist()
    edge = [(-10, 10), (-7, 9), (-10, 10), (3, 10)] * 4
    return [PatchCase("interior; min-size clamp on h", (int(0.4 * size), int(0.55 * size)), (0.74, 0.06), walk),
            PatchCase("at the edge; box clipped, walk clamped at 0 and W", (2, size - 3), (0.9, 0.42), edge)]


# -------------------------------------------------------------------------------------- comparisons

def level_diff(ours_u8: torch.Tensor, theirs_unit: torch.Tensor) -> torch.Tensor:
    """lnta's uint8 frames minus the grey levels of the authors' [-1, 1] frames (which lie on the uint8 grid)."""
    return ours_u8.to(torch.int16) - unit_to_uint8(theirs_unit).to(torch.int16)


def describe_levels(d: torch.Tensor) -> str:
    n = d.numel()
    return (f"{100 * float((d > 0).sum()) / n:.1f}% of pixels +1, {100 * float((d < 0).sum()) / n:.2f}% -1 "
            f"(lnta - theirs), mean {float(d.double().mean()):+.4f} grey levels")


def lnta_settings(sides: Sides) -> dict:
    """The shipped ped2_skip / ped2_patch experiment settings, named as :data:`AUTHORS`."""
    params = sides.patch.augment._param_generator
    return {"batch_size": sides.datamodule.batch_size, "clip_len": sides.datamodule.clip_len,
            "lr": sides.optimizer.keywords["lr"], "p_skip": sides.skip.p, "skips": list(sides.skip.skips),
            "p_patch": sides.patch.p, "alpha": params.alpha, "beta": params.beta}


def compare_settings(sides: Sides) -> list[Row]:
    ours = lnta_settings(sides)
    differ = [k for k in AUTHORS if ours[k] != AUTHORS[k]]
    if list(sides.skip_rule().skips) != ours["skips"]:
        differ.append("the data module's skip set")
    return [Row("0 settings: lnta's ped2_skip / ped2_patch configs vs the authors' run", len(differ), 0, "settings",
                f"differ: {', '.join(f'{k} {ours.get(k)} vs {AUTHORS.get(k)}' for k in differ)}" if differ else
                ", ".join(f"{k} {v}" for k, v in AUTHORS.items()))]


def compare_clips(sides: Sides) -> list[Row]:
    import cv2

    from lnta.data.io.frames import list_frames, read_gray
    cases = [("01", 0), ("07", 42), ("16", sides.train_store.lengths[-1] - CLIP_LEN)]
    # The frames before resizing: OpenCV's grey decoding (their np_load_frame) vs lnta's (PIL), same files.
    folders = dict(sides.datamodule.videos("train"))
    full, files_differ = 0, 0
    for name, start in cases:
        ours_files = list_frames(folders[name])[start:start + CLIP_LEN]
        theirs_files = sides.train.videos[name]["frame"][start:start + CLIP_LEN]
        files_differ += sum(Path(a).resolve() != Path(b).resolve() for a, b in zip(ours_files, theirs_files))
        full = max(full, max(int(np.abs(read_gray(a).astype(int) - cv2.imread(str(b), cv2.IMREAD_GRAYSCALE)).max())
                             for a, b in zip(ours_files, theirs_files)))
    d = torch.cat([level_diff(sides.lnta_clip(n, s), sides.their_clip(n, s)).flatten() for n, s in cases])
    return [Row("1a the same frame files, decoded grey at full resolution", full if not files_differ else float("inf"),
                0, "grey", f"{len(cases) * CLIP_LEN} frames of the clips below; cv2.IMREAD_GRAYSCALE vs PIL convert('L')"
                + (f"; {files_differ} files differ" if files_differ else "")),
            Row(f"1b training clip (video, start), after resize to {sides.size} and scaling", float(d.abs().max()), 1,
                "grey", f"{len(cases)} clips {cases}: {describe_levels(d)}")]


SKIP_CASES = [  # (what, video, start, s, scripted re-draws)
    ("no re-draw", "01", 10, 3, []),
    ("re-draw succeeds on the 2nd try", "01", 100, 5, [110, 30]),
    ("10 re-draws fail, then clamp", "01", 104, 5, [119, 118, 117, 116, 115, 114, 113, 112, 111, 109]),
    ("boundary: num_frames == start + 15 s", "01", 60, 4, []),
    ("boundary on a 180-frame video", "04", 150, 2, []),
]


def compare_skip(sides: Sides) -> list[Row]:
    index_diff, levels, notes = 0, [], []
    for what, name, start, s, redraws in SKIP_CASES:
        try:
            skip_c, normal_c, skip_t, normal_t, draws = sides.their_skip_pair(name, start, s, redraws)
            skip_o, normal_o, s_o, ours = sides.lnta_skip_pair(name, start, s, redraws)
        except ScriptError as exc:
            return [Row("2 skip-frame pair: frame indices and draws", float("nan"), 0, "frames", f"{what}: {exc}")]
        length = sides.train_store.lengths[sides.train_store.names.index(name)]
        calls = [a[0] for a in ours.args("randint")]
        same_draws = (s_o == s and draws.args("choice") == [(AUTHORS["skips"],)] and calls[0] == len(AUTHORS["skips"])
                      and [a[0] for a in draws.args("randint")] == calls[1:] == [length] * len(redraws)
                      and not draws.left() and not ours.left())
        if not same_draws:
            notes.append(f"{what}: draws differ (theirs {draws.calls}, lnta {ours.calls})")
            index_diff = float("inf")
            continue
        index_diff = max(index_diff, int(np.abs(skip_o - skip_t).max()), int(np.abs(normal_o - normal_t).max()))
        v = sides.train_store.names.index(name)
        for ours_idx, theirs_clip in ((skip_o, skip_c), (normal_o, normal_c)):
            levels.append(level_diff(torch.from_numpy(sides.train_store.gather(v, ours_idx))[None], theirs_clip).flatten())
    cases = "; ".join(f"{w} ({n}, {st}, s={s})" for w, n, st, s, _ in SKIP_CASES)
    return [Row("2a skip-frame pair: frame indices (input and target) and draws", index_diff, 0, "frames",
                "; ".join(notes) or f"{len(SKIP_CASES)} cases: {cases}"),
            Row("2b skip-frame pair: clips", float(torch.cat(levels).abs().max()) if levels else float("nan"), 1,
                "grey", f"decoding as row 1b: {describe_levels(torch.cat(levels))}" if levels else "")]


def compare_patch(sides: Sides, k: int = 7) -> list[Row]:
    aug = sides.patch.augment
    clip = sides.their_clip("05", 33)
    ours_clip = to_unit(unit_to_uint8(clip))       # the same input on both sides, exactly
    intruder = sides.intruder_rgb(k)
    walk_diff, mask_diff, clip_diff, notes = 0, 0.0, 0.0, []
    for case in patch_cases(sides.size):
        try:
            patched, mask, mask_calls, draws = sides.their_patch(clip, intruder, case)
        except ScriptError as exc:
            return [Row("3a SmoothMixS size and centre walk", float("nan"), 0, "px", f"{case.name}: {exc}")]
        params = sides.lnta_patch_params(case, k)
        theirs_walk = torch.tensor([[c[0], c[1]] for c in mask_calls])           # (cx, cy) per frame
        theirs_size = torch.tensor([mask_calls[0][3], mask_calls[0][2]])           # (Cut_w, Cut_h)
        expected = [("randint", (sides.size,))] * 2 + [("randint", (-case.beta, case.beta + 1))] * 2 * CLIP_LEN
        if draws.left() or [(n, a) for n, a, _ in draws.calls if n == "randint"] != expected:
            notes.append(f"{case.name}: their draws were {draws.calls}")
            walk_diff = float("inf")
        walk_diff = max(walk_diff, max_abs(params["centres"][0], theirs_walk), max_abs(params["size"][0], theirs_size))
        ours_mask = aug.masks(params, sides.size, sides.size, aug.flags["technique"])[0]
        ours_patched = aug(ours_clip[None], params=dict(params))[0]
        mask_diff = max(mask_diff, max_abs(ours_mask, mask))
        clip_diff = max(clip_diff, max_abs(ours_patched, patched))
        notes.append(f"{case.name}: size {theirs_size.tolist()}, centres {theirs_walk[0].tolist()} -> "
                     f"{theirs_walk[-1].tolist()}")
    return [Row("3a SmoothMixS size (w, h) and centre walk", walk_diff, 0, "px", "; ".join(notes)),
            Row("3b SmoothMixS mask (16 frames)", mask_diff, 1e-5, "", "float64 loop (theirs) vs float32 tensors"),
            Row("3c patched clip", clip_diff, 1e-5, "[-1,1]",
                f"intruder {k} of {sides.intruder_source}, alpha {sides.patch.augment._param_generator.alpha}, "
                f"beta {sides.patch.augment._param_generator.beta}")]


STEP_CLIPS = [("02", 5), ("06", 77), ("11", 30), ("15", 120)]
STEP_U = [0.7, 0.05, 0.3, 0.95]      # sample 1: skip-frame (u < 0.2), sample 2: patch (0.2 <= u < 0.4)
STEP_SKIP = ("09", 40, 3, [])


def compare_step(sides: Sides, theirs, ours) -> list[Row]:
    import torch.nn.functional as F

    from lnta.models.module import LNTAModule
    size, k = sides.size, 3
    p_skip, p_patch = AUTHORS["p_skip"], AUTHORS["p_patch"]
    imgs = torch.stack([sides.their_clip(n, s) for n, s in STEP_CLIPS])          # (4, 1, T, H, W)
    jump_in, jump_target, *_ = sides.their_skip_pair(*STEP_SKIP)
    case = patch_cases(size)[0]

    # The authors' side: their rule (train.py) written out: consecutive intervals of [0, 1) in their
    # order (skip-frame, then SmoothMixS); pseudo target = the normal clip; per-sample MSE, mean over the batch.
    net_in, targets, kinds = imgs.clone(), imgs.clone(), []
    for b, u in enumerate(STEP_U):
        if u < p_skip:
            net_in[b], targets[b] = jump_in, jump_target
            kinds.append(0)
        elif p_skip <= u < p_skip + p_patch:
            net_in[b], _, _, _ = sides.their_patch(net_in[b], sides.intruder_rgb(k), case)
            kinds.append(1)
        else:
            kinds.append(-1)
    theirs.train()

    def their_step(x: torch.Tensor) -> torch.Tensor:
        theirs.zero_grad(set_to_none=True)
        out = theirs(x)
        loss = torch.stack([F.mse_loss(out[b], targets[b], reduction="none").mean() for b in range(len(x))]).mean()
        loss.backward()
        return loss

    # lnta: LNTAModule.training_step on the same uint8 batch, the same u and the same patch parameters.
    module = LNTAModule(ours, [sides.skip, sides.patch], optimizer=sides.optimizer)
    module.train()
    u8 = unit_to_uint8(imgs)
    skip_clip, skip_target = u8.clone(), u8.clone()
    skip_clip[1], skip_target[1] = unit_to_uint8(jump_in), unit_to_uint8(jump_target)
    batch = {"clip": u8, "skip_clip": skip_clip, "skip_target": skip_target}
    forced = sides.lnta_patch_params(case, k)
    captured = []
    make_inputs = module.make_inputs
    with swapped(sides.patch.augment, "generate_parameters", lambda shape: dict(forced)), \
            swapped(module, "make_inputs", lambda b: captured.append(make_inputs(b)) or captured[-1]), \
            first_rand(torch.tensor(STEP_U)) as rand_sizes, warnings.catch_warnings():
        warnings.simplefilter("ignore")        # self.log outside a Trainer
        loss = module.training_step(batch, 0)
    loss.backward()
    inputs, lnta_targets, lnta_kinds = captured[0]
    assignment_ok = lnta_kinds.tolist() == kinds and rand_sizes[0] == (len(imgs),)

    # Their step on their own inputs (informational: they differ from lnta's by row 4a, and LeakyReLU's
    # kink makes gradients jump where a pre-activation changes sign), then, from the same BN state, on
    # exactly lnta's inputs: the rows below compare the loss arithmetic, the model and the optimizer alone.
    from lnta.deploy.authors_weights import to_lnta_keys

    def their_grads() -> dict:
        return to_lnta_keys({n.removeprefix("module."): p.grad for n, p in theirs.named_parameters()})

    state = {k: v.clone() for k, v in theirs.state_dict().items()}
    their_step(net_in)
    own_input_grads = {n: g.clone() for n, g in their_grads().items()}
    own_input_grad_diff = max(max_abs(p.grad, own_input_grads[n]) for n, p in ours.named_parameters())
    theirs.load_state_dict(state)
    their_loss = their_step(inputs.detach())
    grad_diff = max(max_abs(p.grad, their_grads()[n]) for n, p in ours.named_parameters())
    grad_scale = max(float(p.grad.abs().max()) for p in ours.parameters())
    their_buffers = to_lnta_keys({n.removeprefix("module."): b for n, b in theirs.named_buffers()})
    bn_diff = max(max_abs(b, their_buffers[n]) for n, b in ours.named_buffers())

    # One Adam step: their train.py's optimizer vs lnta's from conf/, each from its gradients above.
    # Then (informational) lnta's step from the gradients of their own patched input.
    their_opt = torch.optim.Adam(theirs.parameters(), lr=AUTHORS["lr"])        # as their train.py
    their_opt.step()
    their_params = to_lnta_keys({n.removeprefix("module."): p.detach() for n, p in theirs.named_parameters()})
    before = {n: p.detach().clone() for n, p in ours.named_parameters()}
    our_opt = module.configure_optimizers()
    our_opt.step()
    step_diff = max(max_abs(p.detach(), their_params[n]) for n, p in ours.named_parameters())
    with torch.no_grad():
        for n, p in ours.named_parameters():
            p.copy_(before[n])
            p.grad.copy_(own_input_grads[n])
    module.configure_optimizers().step()
    own_diff = {n: max_abs(p.detach(), their_params[n]) for n, p in ours.named_parameters()}
    worst = max(own_diff, key=own_diff.get)
    keys = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    hyper_ok = all(tuple(np.atleast_1d(our_opt.defaults[k])) == tuple(np.atleast_1d(their_opt.defaults[k])) for k in keys)
    hyper = ", ".join(f"{k} {our_opt.defaults[k]}" for k in keys)

    names = {-1: "normal", 0: "skip", 1: "patch"}
    note = (f"u {STEP_U}: theirs {[names[x] for x in kinds]}, lnta "
            f"{[names[x] for x in lnta_kinds.tolist()]}" + ("" if assignment_ok else " — ASSIGNMENT DIFFERS"))
    inf_if = (lambda ok, x: x if ok else float("inf"))
    return [
        Row("4a pseudo assignment, inputs (skip, patch, normal)", inf_if(assignment_ok, max_abs(inputs, net_in)),
            1e-5, "[-1,1]", note),
        Row("4b targets (skip: consecutive clip from the same start; patch: the normal clip)",
            max_abs(lnta_targets, targets), 0, "[-1,1]", ""),
        Row("4c loss of the step (rows 4c-4f: the inputs of 4a, exactly)", abs(loss.item() - their_loss.item()), 1e-6,
            "", f"theirs {their_loss.item():.6f}, lnta {loss.item():.6f}"),
        Row(f"4d gradients (all {sum(p.numel() for p in ours.parameters()):,} parameters)", grad_diff,
            1e-5 * grad_scale, "", f"largest |grad| {grad_scale:.3g}; tolerance 1e-5 of it. With their own "
            f"patched input instead: {own_input_grad_diff:.2g} (see README)"),
        Row("4e batch-norm running statistics after the step", bn_diff, 1e-6, "", ""),
        Row("4f weights after one Adam step", inf_if(hyper_ok, step_diff), 1e-7, "",
            f"lnta's optimizer from conf/: {hyper}{'' if hyper_ok else ' — HYPERPARAMETERS DIFFER'}. From the "
            f"gradients of their own patched input instead: {own_diff[worst]:.2g} ({worst}), over the weights "
            f"(not biases) {max(v for n, v in own_diff.items() if n.endswith('weight')):.2g}: see README"),
    ]


def compare_psnr(sides: Sides, theirs, ours, video: str) -> list[Row]:
    import torch.nn.functional as F

    from lnta.data.datasets import TestClips
    from lnta.models.module import LNTAModule
    theirs.eval()
    module = LNTAModule(ours).eval()
    # The authors' side, as their evaluate.py: their test dataset, batch 1, MSE of the 9th frame, their psnr().
    their_psnr, frames = [], []
    for i, sample in enumerate(sides.test.samples):
        if Path(sample).parent.name != video:
            continue
        imgs = torch.from_numpy(sides.test[i])[None]
        with torch.no_grad():
            out = theirs(imgs)
        mse = F.mse_loss(out[0, :, 8], imgs[0, :, 8], reduction="none").mean().item()
        their_psnr.append(sides.their_utils.psnr(mse))
        frames.append((imgs, int(Path(sample).stem) + 8))
    # lnta: its test clips (own decoding) through LNTAModule.test_step (lnta.scoring.frame_psnr).
    clips = TestClips(sides.test_store, sides.datamodule.clip_len, sides.datamodule.center)
    v = sides.test_store.names.index(video)
    idx = np.nonzero(clips.videos == v)[0]
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(clips, idx), batch_size=sides.datamodule.eval_batch_size)
    own, own_frames = [], []
    with torch.no_grad():
        for batch in loader:
            own.append(module.test_step(batch, 0)["psnr"])
            own_frames += batch["frame"].tolist()
        # lnta on the authors' decoded clips: the scoring arithmetic alone.
        same = torch.cat([module.test_step({"clip": unit_to_uint8(torch.cat([c for c, _ in frames[j:j + 16]])),
                                            "video": torch.zeros(len(frames[j:j + 16]), dtype=torch.long),
                                            "frame": torch.tensor([f for _, f in frames[j:j + 16]])}, 0)["psnr"]
                          for j in range(0, len(frames), 16)])
    own = torch.cat(own)
    theirs_t = torch.tensor(their_psnr, dtype=torch.float64)
    if own_frames != [f for _, f in frames]:
        return [Row(f"5 per-frame test PSNR, video {video}", float("nan"), 0.0, "dB",
                    f"scored frames differ: lnta {own_frames[:3]}..., theirs {[f for _, f in frames][:3]}...")]
    return [Row(f"5a per-frame test PSNR, video {video}, same inputs", max_abs(same, theirs_t), 1e-4, "dB",
                f"{len(frames)} frames ({frames[0][1]}..{frames[-1][1]}), mean {theirs_t.mean():.3f} dB"),
            Row(f"5b per-frame test PSNR, video {video}, each side's own decoding", max_abs(own, theirs_t), 0.05, "dB",
                "row 1b's resize difference in the input and target")]


# -------------------------------------------------------------------------------------------- main

def run(args) -> list[Row]:
    cifar = args.cifar if args.cifar and Path(args.cifar).exists() else None
    sides = Sides(Path(args.clone).expanduser().resolve(), Path(args.data).expanduser().resolve(), args.size,
                  Path(args.cifar).resolve() if cifar else None, args.seed)
    rows = compare_settings(sides) + compare_clips(sides) + compare_skip(sides) + compare_patch(sides)
    theirs, ours = sides.models()
    rows += compare_step(sides, theirs, ours)
    from lnta.deploy.authors_weights import to_lnta_keys
    ours.load_state_dict(to_lnta_keys(theirs.state_dict()))   # PSNRs: exactly the same (stepped) weights
    rows += compare_psnr(sides, theirs, ours, args.test_video)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--clone", required=True, help="a checkout of the authors' repository")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "datasets" / "ped2"),
                        help="Ped2 in the frames layout (training/frames/01/000.jpg ...)")
    parser.add_argument("--size", type=int, default=64, help="frame side after resizing (their --h/--w)")
    parser.add_argument("--cifar", default=str(REPO.parent / "shared" / "datasets" / "cifar10"),
                        help="a CIFAR python release for the patch intruder (else lnta's synthetic intruders)")
    parser.add_argument("--test-video", default="01", help="the test video whose per-frame PSNRs are compared")
    parser.add_argument("--seed", type=int, default=0, help="seeds the shared initial weights")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    t0, threads = time.time(), torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        rows = run(args)
    except LntaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)
    print(format_table(rows))
    failed = [r.what for r in rows if not r.ok]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} within tolerance ({time.time() - t0:.0f} s, "
          f"{args.threads} thread(s), size {args.size})" + (f"; outside: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
