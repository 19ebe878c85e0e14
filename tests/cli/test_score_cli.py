"""The real CLIs on tiny data: score a .avi and a frame folder, thresholds, convert, export, OpenVINO."""
import csv
import json
import pickle
import re
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from lnta.metrics.calibration import CALIBRATION_KEY, calibrate
from lnta.trainer.build import module_from_checkpoint
from lnta.trainer.checkpoint import CONFIG_KEY, load_checkpoint
from lnta.deploy.authors_weights import authors_state_dict, build_model, load_untrusted, to_lnta_keys
from lnta.data.io.store import resized_chunks
from lnta.data.io.store import FrameStore
from lnta.errors import DataError
from lnta.models import ConvAE3D
from tests.conftest import one_error, run_cli, tiny_overrides
from tests.unit.deploy.test_openvino import needs_openvino
from tests.unit.deploy.test_stream import write_avi


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny checkpoint from the real training CLI, its test-set outputs, and a .avi of test video 01."""
    tmp = tmp_path_factory.mktemp("score")
    run_cli("lnta.train", *tiny_overrides(tmp))
    frames = np.concatenate(list(resized_chunks(tmp / "synthetic" / "testing" / "frames" / "01", 32)))
    write_avi(tmp / "01.avi", frames)
    return tmp


@pytest.mark.slow
def test_score_avi_and_frame_folder_match_the_eval_path(trained):
    ckpt = trained / "run" / "checkpoints" / "last.ckpt"
    folder = trained / "synthetic" / "testing" / "frames" / "01"
    # compared below with the CPU eval path at 1e-5 and digit for digit: on the CPU as well (lnta.score takes a
    # GPU where there is one, with bf16, TF32 and cuDNN autotuning; run_cli hides it, this pins it where it is made)
    common = [f"ckpt_path={ckpt}", "progress=false", "device=cpu"]
    run_cli("lnta.score", *common, f"input={trained / '01.avi'}", f"hydra.run.dir={trained / 's_avi'}",
            "overlay=video")
    run_cli("lnta.score", *common, f"input={folder}", f"hydra.run.dir={trained / 's_drop'}", "edges=drop")
    avi, drop = (_rows(trained / d / "scores.csv") for d in ("s_avi", "s_drop"))
    reference = [r for r in _rows(trained / "run" / "scores.csv") if r["video"] == "01"]

    assert [int(r["frame"]) for r in avi] == list(range(40))  # edges=pad: one row per frame
    by_frame = {int(r["frame"]): r for r in avi}
    for ref in reference:  # interior frames: the very clips of the eval path
        assert float(by_frame[int(ref["frame"])]["psnr"]) == pytest.approx(float(ref["psnr"]), abs=1e-5)
    # edges=drop is the reference protocol: same frames, same per-video min-max scores
    assert [(r["frame"], r["score"]) for r in drop] == [(r["frame"], r["score"]) for r in reference]
    assert (trained / "s_avi" / "plots" / "01.png").stat().st_size > 0
    report = json.loads((trained / "s_avi" / "flagged.json").read_text())
    assert report["videos"]["01"]["frames_scored"] == 40 and report["threshold"] is not None
    assert (trained / "s_avi" / "overlay" / "01.mp4").stat().st_size > 0

    run_cli("lnta.score", *common, f"input={trained / '01.avi'}", f"hydra.run.dir={trained / 's_stream'}",
            "stream=true")
    stream = _rows(trained / "s_stream" / "scores.csv")
    assert [r["psnr"] for r in stream] == [r["psnr"] for r in avi] and all(r["score"] == "" for r in stream)

    missing = run_cli("lnta.score", *common, f"input={trained / 'nope.mp4'}", check=False,
                      env={"HYDRA_FULL_ERROR": "0"})
    assert missing.returncode == 2 and missing.stderr.strip().splitlines()[-1].startswith("error: input=")


def _background_checkpoint(path, level: int, normal: np.ndarray):
    """A checkpoint whose AE outputs the constant grey ``level``: its error is the distance from the
    background, so the frames that are anomalous are exactly known. Calibrated on ``normal``."""
    model = ConvAE3D(width=0.125)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.decoder[-2].bias.fill_(float(np.arctanh(level / 127.5 - 1)))
    model.eval()
    store = FrameStore(["n"], [len(normal)], normal)
    config = {"model": {"_target_": "lnta.models.ConvAE3D", "in_channels": 1, "width": 0.125},
              "data": {"_target_": "lnta.data.VideoDataModule", "image_size": 32, "clip_len": 16}}
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}, CONFIG_KEY: config,
                CALIBRATION_KEY: calibrate(model, store, 16, 8, max_clips=1000)}, path)


def _scene(n, rng, anomaly=None):
    frames = np.clip(rng.normal(120, 3, (n, 32, 32)), 0, 255).astype(np.uint8)
    if anomaly:
        for t in range(*anomaly):
            x = 2 + (t - anomaly[0]) % 20
            frames[t, 10:20, x:x + 8] = 250  # a bright object crossing the scene
    return frames


@pytest.mark.slow
def test_calibrated_threshold_flags_the_anomalous_interval_only(tmp_path):
    rng = np.random.default_rng(0)
    _background_checkpoint(tmp_path / "bg.ckpt", 120, _scene(300, rng))
    videos = tmp_path / "videos"
    videos.mkdir()
    write_avi(videos / "normal.avi", _scene(100, rng))
    write_avi(videos / "intruder.avi", _scene(100, rng, anomaly=(40, 70)))
    run_cli("lnta.score", f"ckpt_path={tmp_path / 'bg.ckpt'}", f"input={videos}", "threshold=6",
            "progress=false", f"hydra.run.dir={tmp_path / 'out'}")
    report = json.loads((tmp_path / "out" / "flagged.json").read_text())["videos"]
    assert report["intruder"]["intervals"] == [[40, 69]]
    assert report["intruder"]["intervals_seconds"] == [[1.6, 2.8]]
    assert report["normal"]["intervals"] == [] and report["normal"]["flagged_frames"] == 0


def _authors_files(tmp_path):
    """The authors' two formats, written by a model class that is importable only while saving."""
    torch.manual_seed(0)
    ae = ConvAE3D(width=0.125)
    for m in ae.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    theirs = types.ModuleType("authors_model")
    exec("from torch import nn\nclass AutoEncoderCov3D(nn.Module): pass\nclass Part(nn.Module): pass",
         theirs.__dict__)
    sys.modules["authors_model"] = theirs
    try:
        model = theirs.AutoEncoderCov3D()
        model.encoder, model.decoder = theirs.Part(), theirs.Part()
        model.encoder.encoder, model.decoder.decoder = ae.encoder, ae.decoder
        wrapped = nn.DataParallel(model)
        torch.save({"model": wrapped, "epoch": 59}, tmp_path / "pickled.pth")
        torch.save({"model_statedict": wrapped.state_dict()}, tmp_path / "statedict.pth")
        assert next(iter(wrapped.state_dict())) == "module.encoder.encoder.0.weight"
    finally:
        del sys.modules["authors_model"]
    return ae.eval()


@pytest.mark.parametrize("name", ["statedict.pth", "pickled.pth"])
def test_authors_checkpoints_convert_to_identical_models(tmp_path, name):
    direct = _authors_files(tmp_path)
    path = tmp_path / name
    model, config = build_model(to_lnta_keys(authors_state_dict(load_untrusted(path), path)), path)
    assert config["width"] == 0.125
    x = torch.rand(2, 1, 16, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model.eval()(x), direct(x))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_a_malicious_pickle_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model": _Evil(marker)}, tmp_path / "evil.pth")
    with open(tmp_path / "evil.pkl", "wb") as f:  # a bare pickle, not a torch zip
        pickle.dump({"model": _Evil(marker)}, f, protocol=2)
    for name in ("evil.pth", "evil.pkl"):
        with pytest.raises(DataError, match="refus"):
            load_untrusted(tmp_path / name)
    assert not marker.exists()


@pytest.mark.slow
def test_convert_calibrate_eval_and_export_through_the_cli(trained, tmp_path):
    _authors_files(tmp_path)
    data = ["data=synthetic", f"data.root={trained / 'synthetic'}", "data.size=32", "data.image_size=32",
            "data.train_videos=2", "data.test_videos=2", "data.frames_per_video=40"]
    out = tmp_path / "converted.ckpt"
    run_cli("lnta.convert", f"src={tmp_path / 'pickled.pth'}", f"out={out}", *data, "calibrate=true",
            f"hydra.run.dir={tmp_path / 'conv'}")
    checkpoint = load_checkpoint(out)  # weights_only=True
    assert checkpoint["epoch"] == 59 and checkpoint[CALIBRATION_KEY]["n"] == 2 * (40 - 15)
    run_cli("lnta.eval", f"ckpt_path={out}", f"hydra.run.dir={tmp_path / 'eval'}", "trainer.enable_progress_bar=false")
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n_frames_scored"] == 50 and 0 <= metrics["calibrated"]["false_alarm_rate"] <= 1
    assert metrics["calibrated"]["auc_macro"] == pytest.approx(metrics["auc_macro"], abs=1e-12)  # per-video monotone

    run_cli("lnta.export", f"ckpt_path={out}", f"out={tmp_path / 'ae.pt'}", f"hydra.run.dir={tmp_path / 'exp'}")
    extra = {"lnta.json": ""}
    scripted = torch.jit.load(str(tmp_path / "ae.pt"), _extra_files=extra)
    meta = json.loads(extra["lnta.json"])
    assert meta["image_size"] == 32 and meta["clip_len"] == 16 and meta["calibration"]["n"] == 50
    x = torch.rand(3, 1, 16, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(scripted(x), module_from_checkpoint(checkpoint).model.eval()(x), atol=1e-6)


@pytest.mark.slow
def test_overlay_frames_are_written_at_the_input_size_with_colour_bar_and_text(trained, tmp_path):
    """A 96x160 input scored by a 32 px model: each overlay is 96x160, error map upsampled."""
    from PIL import Image

    source = trained / "synthetic" / "testing" / "frames" / "01"
    big = tmp_path / "big"
    big.mkdir()
    for path in sorted(source.iterdir())[:20]:
        Image.open(path).convert("L").resize((160, 96), Image.BILINEAR).save(big / f"{path.stem}.png")
    ckpt = trained / "run" / "checkpoints" / "last.ckpt"
    run_cli("lnta.score", f"ckpt_path={ckpt}", f"input={big}", "overlay=frames", "progress=false",
            f"hydra.run.dir={tmp_path / 'out'}")
    pngs = sorted((tmp_path / "out" / "overlay" / "big").glob("*.png"))
    assert len(pngs) == 20
    rgb = np.asarray(Image.open(pngs[10]).convert("RGB")).astype(int)
    assert rgb.shape == (96, 160, 3)
    bar = rgb[20:76, -6]  # the colour bar at the right edge: red at the top, blue at the bottom
    assert bar[0, 0] > 100 and bar[0, 2] < 100 and bar[-1, 2] > 100 and bar[-1, 0] < 100
    text = rgb[2:12, 2:60]  # the frame index and score, white on a black box
    assert (text.max(axis=2) > 200).sum() > 10 and (text.max(axis=2) < 30).sum() > 50


@pytest.mark.slow
@needs_openvino
def test_openvino_export_and_score_match_the_pytorch_runtime(trained):
    """``lnta.export format=openvino`` then ``lnta.score runtime=openvino``: the same frames, PSNRs, calibrated
    scores, threshold and flags as the PyTorch runtime at fp32, with geometry and calibration read from the IR."""
    ckpt, xml = trained / "run" / "checkpoints" / "last.ckpt", trained / "ir" / "ae.xml"
    result = run_cli("lnta.export", f"ckpt_path={ckpt}", f"out={xml}", "format=openvino",
                     f"hydra.run.dir={trained / 'ov_exp'}")
    logged = re.search(r"OpenVINO IR, checked with OpenVINO CPU at f32\), max abs reconstruction difference (\S+) "
                       r"\(tolerance 0.0001\)", result.stdout + result.stderr)
    assert logged and float(logged.group(1)) <= 1e-4 and xml.with_suffix(".bin").is_file()
    folder = trained / "synthetic" / "testing" / "frames" / "01"
    for runtime, model in (("pytorch", ckpt), ("openvino", xml)):
        run_cli("lnta.score", f"ckpt_path={model}", f"runtime={runtime}", f"input={folder}", "progress=false",
                "device=cpu", "precision=exact", f"hydra.run.dir={trained / f's_{runtime}'}")
    torch_rows, ov_rows = (_rows(trained / f"s_{r}" / "scores.csv") for r in ("pytorch", "openvino"))
    torch_report, ov_report = (json.loads((trained / f"s_{r}" / "flagged.json").read_text())
                               for r in ("pytorch", "openvino"))
    assert (ov_report["runtime"], ov_report["inference_precision"]) == ("openvino", "f32")
    assert ov_report["threshold"] == torch_report["threshold"] and ov_report["calibration"] == torch_report["calibration"]
    assert [r["frame"] for r in ov_rows] == [r["frame"] for r in torch_rows] == [str(f) for f in range(40)]
    # The export check bounds the reconstructions' difference by 1e-4 (about 3e-8 measured here), which moves a
    # PSNR by at most ~3e-3 dB at these errors; 1e-4 dB is what fp32 kernels of two runtimes give (~1e-6 here),
    # and z = (mean - psnr) / std with std ~0.3 dB moves by < 1e-3.
    for o, t in zip(ov_rows, torch_rows):
        assert float(o["psnr"]) == pytest.approx(float(t["psnr"]), abs=1e-4)
        assert float(o["calibrated"]) == pytest.approx(float(t["calibrated"]), abs=1e-3)
        assert float(o["score"]) == pytest.approx(float(t["score"]), abs=1e-3)
        if abs(float(t["calibrated"]) - torch_report["threshold"]) > 1e-3:
            assert o["flagged"] == t["flagged"]


@pytest.mark.slow
def test_score_runtime_openvino_with_a_wrong_ir_path_is_one_error(tmp_path):
    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        Image.fromarray(np.full((32, 32), 100, np.uint8)).save(frames / f"{i:03d}.png")
    common = [f"input={frames}", "progress=false", f"hydra.run.dir={tmp_path / 'out'}"]
    missing = run_cli("lnta.score", "runtime=openvino", f"ckpt_path={tmp_path / 'nope.xml'}", *common, check=False)
    assert re.fullmatch(r"error: ckpt_path=\S*nope\.xml: \S*nope\.xml does not exist \(write the IR with python -m "
                        r"lnta\.export format=openvino out=FILE\.xml; the \.bin must stay beside the \.xml\)",
                        one_error(missing))
    checkpoint = run_cli("lnta.score", "runtime=openvino", f"ckpt_path={tmp_path / 'last.ckpt'}", *common, check=False)
    assert one_error(checkpoint).startswith(f"error: ckpt_path={tmp_path / 'last.ckpt'}: runtime=openvino needs "
                                            "the .xml IR written by python -m lnta.export format=openvino")
    ir_to_pytorch = run_cli("lnta.score", f"ckpt_path={tmp_path / 'ae.xml'}", *common, check=False)
    assert one_error(ir_to_pytorch) == (f"error: ckpt_path={tmp_path / 'ae.xml'}: an OpenVINO IR: lnta.score reads it "
                                        "with runtime=openvino (lnta.calibrate needs the checkpoint)")
    assert not (tmp_path / "out" / "scores.csv").exists()
