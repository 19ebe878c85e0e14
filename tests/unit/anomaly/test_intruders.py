"""Intruder sources on their real on-disk formats: CIFAR pickles, image folders, video clips."""
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from lnta.anomaly import PatchAnomaly
from lnta.anomaly.intruders.banks import ClipBank, CropBank, IntruderBank
from lnta.anomaly.intruders.sources import build_intruders
from lnta.data.io.frames import rgb_to_gray
from lnta.errors import DataError
from tests.conftest import shared_dataset


def _write_cifar100(root, counts=(("train", 6), ("test", 3))):
    """The CIFAR-100 python release layout: cifar-100-python/{train,test,meta}, key fine_labels."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = {}
    for split, n in counts:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        images[split] = data
        with open(folder / split, "wb") as f:
            pickle.dump({b"data": data, b"fine_labels": list(range(n)), b"coarse_labels": [0] * n}, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [b"apple"], b"coarse_label_names": [b"fruit"]}, f)
    return root, images


@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar100_pickles(tmp_path, split):
    root, images = _write_cifar100(tmp_path)
    bank = build_intruders("cifar", str(root), split)
    rgb = images[split].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert type(bank) is IntruderBank
    assert torch.equal(bank.images, torch.from_numpy(rgb_to_gray(rgb)))
    assert torch.equal(build_intruders("auto", str(root / "cifar-100-python" / split)).images, bank.images)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cifar_pickles_of_every_protocol_load(tmp_path, protocol):
    data = np.random.default_rng(protocol).integers(0, 256, (3, 3072), dtype=np.uint8)
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": data, b"labels": [0, 1, 2]}, protocol=protocol))
    rgb = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert torch.equal(build_intruders("cifar", str(path)).images, torch.from_numpy(rgb_to_gray(rgb)))


class _RunsCode:
    """A pickle payload that, unpickled by ``pickle.load``, would create ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_cifar_pickle_that_names_a_callable_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [_RunsCode(marker)]}))
    with pytest.raises(DataError, match=r"test_batch: not a CIFAR python pickle .*refusing global io\.open"):
        build_intruders("cifar", str(path))
    assert not marker.exists()


class _NumpyAnyVersion(pickle.Unpickler):
    """The test's own plain read of a CIFAR pickle: one written by NumPy 2 names ``numpy._core``, which NumPy 1
    (the floor of our range) calls ``numpy.core``."""

    def find_class(self, module, name):
        if module.startswith("numpy._core") and not hasattr(np, "_core"):
            module = "numpy.core" + module.removeprefix("numpy._core")
        return super().find_class(module, name)


def test_cifar10_release_from_shared_data():
    root = shared_dataset("cifar10")
    bank = build_intruders("auto", str(root), "test")
    assert bank.images.shape == (10000, 32, 32) and bank.images.dtype == torch.uint8
    with open(root / "cifar-10-batches-py" / "test_batch", "rb") as f:
        first = np.asarray(_NumpyAnyVersion(f, encoding="bytes").load()[b"data"][0], np.uint8).reshape(3, 32, 32)
    assert torch.equal(bank.images[0], torch.from_numpy(rgb_to_gray(first.transpose(1, 2, 0))))
    frames = bank.frames({"intruder_index": torch.tensor([0])}, 16, 256, 256)
    assert frames.shape == (1, 1, 256, 256)
    assert frames[0, 0, 0, 0] == bank.images[0, 0, 0].float() / 127.5 - 1                 # align_corners=True


def _write_images(folder, n, size=(20, 30), offset=0):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full(size, 10 * (i + offset), np.uint8)).save(folder / f"{i}.png")


@pytest.mark.parametrize("layout", ["classes", "flat"])
def test_image_folder(tmp_path, layout):
    if layout == "classes":
        _write_images(tmp_path / "n01" , 2)
        _write_images(tmp_path / "n02", 2, offset=2)
    else:
        _write_images(tmp_path, 4)
    bank = build_intruders("auto", str(tmp_path), size=16)
    assert isinstance(bank, CropBank) and bank.images.shape == (4, 16, 16)
    assert sorted(bank.images[:, 0, 0].tolist()) == [0, 10, 20, 30]
    torch.manual_seed(0)
    params = bank((64, 1, 16, 64, 64))
    boxes = params["intruder_box"]
    width = boxes[:, 1, 0] - boxes[:, 0, 0] + 1
    assert (boxes >= 0).all() and (boxes <= 15).all() and width.min() < 16          # random resized crops
    assert 0 < params["intruder_hflip"].float().mean() < 1 and 0 < params["intruder_vflip"].float().mean() < 1
    frames = bank.frames(params, 16, 64, 64)
    assert frames.shape == (64, 1, 64, 64)
    constant = frames.amax((1, 2, 3)) - frames.amin((1, 2, 3))
    assert constant.max() < 1e-5                                                   # each image is flat grey


def test_image_folder_flips(tmp_path):
    image = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)
    bank = CropBank(torch.from_numpy(image)[None])
    whole = torch.tensor([[[0.0, 0.0], [15.0, 0.0], [15.0, 15.0], [0.0, 15.0]]])
    params = {"intruder_index": torch.tensor([0]), "intruder_box": whole,
              "intruder_hflip": torch.tensor([True]), "intruder_vflip": torch.tensor([False])}
    out = bank.frames(params, 1, 16, 16)[0, 0]
    assert torch.allclose(out, (torch.from_numpy(image).float() / 127.5 - 1).flip(-1), atol=1e-5)


def _write_frames(root, lengths, size=24):
    test_video = root / "testing" / "frames" / "01"  # a dataset layout; only its training videos are used
    test_video.mkdir(parents=True)
    Image.fromarray(np.zeros((size, size), np.uint8)).save(test_video / "0.png")
    for v, n in enumerate(lengths):
        folder = root / "training" / "frames" / f"{v + 1:02d}"
        folder.mkdir(parents=True)
        for t in range(n):
            Image.fromarray(np.full((size, size), 100 * v + t, np.uint8)).save(folder / f"{t}.png")


def test_clip_intruders_move_frame_by_frame(tmp_path):
    _write_frames(tmp_path, [20, 5, 18])                       # video 2 is too short for a 16-frame clip
    bank = build_intruders("clips", str(tmp_path), size=24, clip_len=16)
    assert isinstance(bank, ClipBank) and len(bank.starts) == 5 + 3
    torch.manual_seed(0)
    params = bank((200, 1, 16, 24, 24))
    frames = bank.frames(params, 16, 24, 24)                   # (B, T, H, W)
    grey = ((frames[:, :, 0, 0] + 1) * 127.5).round()
    assert torch.equal(grey[:, 1:] - grey[:, :-1], torch.ones(200, 15))  # consecutive frames of one video
    assert set((grey[:, 0] // 100).tolist()) == {0.0, 2.0}     # never the short video
    anomaly = PatchAnomaly(1.0, alpha=1.0, beta=0, intruder=bank)
    assert anomaly(torch.zeros(2, 1, 16, 24, 24), {}, torch.arange(2))[0].shape == (2, 1, 16, 24, 24)


@pytest.mark.realdata
def test_ped2_training_clips_as_intruders():
    root = shared_dataset("ped2")
    bank = build_intruders("clips", str(root), size=64)
    assert bank.images.shape == (2550, 64, 64) and len(bank.starts) == 2550 - 16 * 15
    torch.manual_seed(0)
    anomaly = PatchAnomaly(1.0, "smoothmix_s", beta=3, intruder=bank)
    out, target = anomaly(torch.zeros(4, 1, 16, 64, 64), {}, torch.arange(4))
    assert out.shape == target.shape and not torch.equal(out[:, :, 0], out[:, :, -1])


@pytest.mark.parametrize("source, make, match", [
    ("cifar", lambda p: None, "not found"),
    ("folder", lambda p: p.mkdir(), "no images found"),
    ("auto", lambda p: p.mkdir(), "holds neither a CIFAR python release nor image files"),
    ("clips", lambda p: None, "anomaly.intruder.path=.*: not found"),
    ("clips", lambda p: p.mkdir(), "anomaly.intruder.path=.*: no known layout"),
    ("cifar", lambda p: p.write_bytes(pickle.dumps({b"data": np.zeros((0, 3072), np.uint8)})), "holds no 32x32"),
    ("cifar", lambda p: p.write_text("not a pickle"), "not a CIFAR python pickle"),
])
def test_missing_or_empty_sources_fail_in_one_line(tmp_path, source, make, match):
    path = tmp_path / "intruders"
    make(path)
    with pytest.raises(DataError, match=match) as info:
        build_intruders(source, str(path))
    assert "\n" not in str(info.value)


def test_unknown_source_and_missing_path():
    with pytest.raises(DataError, match="anomaly.intruder.source='imagenet'"):
        build_intruders("imagenet", "x")
    with pytest.raises(DataError, match="anomaly.intruder.path is required"):
        build_intruders("folder", None)
