"""Scoring one's own footage: edge rules, calibration thresholds, intervals, sources, bounded memory."""
import json
import subprocess
import sys

import av
import numpy as np
import pytest
import torch

from lnta.metrics.calibration import (calibrate, calibrated_scores, calibration_stats, flagged_intervals,
                              sample_clips, threshold_for)
from lnta.data.sampling import scored_clips, scored_frames
from lnta.data.io.store import FrameStore
from lnta.errors import ConfigError, DataError
from lnta.models import ConvAE3D
from lnta.deploy.overlay import heatmap_overlay, overlay_frame
from lnta.deploy.stream import find_sources, score_frames
from tests.conftest import REPO


def write_avi(path, frames, fps=25):
    """Lossless grayscale .avi (FFV1), so decoded frames equal ``frames`` exactly."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "gray"
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="gray")))
        container.mux(stream.encode())


@pytest.mark.parametrize("n", [1, 5, 16, 17, 40])
def test_pad_scores_every_frame_with_clamped_clips(n):
    out = list(scored_clips(iter(range(n)), 16, 8, "pad"))
    assert [f for f, _ in out] == list(range(n))
    for f, clip in out:
        assert clip == list(np.clip(np.arange(f - 8, f + 8), 0, n - 1))


@pytest.mark.parametrize("n", [5, 16, 40])
def test_drop_is_the_reference_rule(n):
    out = list(scored_clips(iter(range(n)), 16, 8, "drop"))
    assert [f for f, _ in out] == list(scored_frames(n, 16, 8))
    assert all(clip == list(range(f - 8, f + 8)) for f, clip in out)


def test_unknown_edge_rule_is_a_config_error():
    with pytest.raises(ConfigError, match="edges=mirror"):
        scored_clips(iter(range(3)), 16, 8, "mirror")


def test_flagged_intervals_are_inclusive_runs():
    frames = np.arange(10, 20)
    flagged = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1, 0])
    assert flagged_intervals(frames, flagged) == [[10, 11], [14, 14], [16, 18]]
    assert flagged_intervals(frames, np.zeros(10)) == []
    assert flagged_intervals(frames, np.ones(10)) == [[10, 19]]


def test_threshold_from_false_alarm_rate_flags_that_share_of_normal_frames():
    psnr = np.random.default_rng(0).normal(30, 2, 1000)
    stats = calibration_stats(psnr, "test")
    z = calibrated_scores(psnr, stats)
    assert z.mean() == pytest.approx(0, abs=1e-9) and z.std() == pytest.approx(1, abs=1e-9)
    for rate in (0.01, 0.05, 0.2):  # at most the rate, short of it by less than one frame
        allowed = round(rate * len(z))
        assert allowed - 1 <= int((z > threshold_for(stats, false_alarm_rate=rate)).sum()) <= allowed
    assert threshold_for(stats, threshold=2.5, false_alarm_rate=0.01) == 2.5
    with pytest.raises(ConfigError, match="false_alarm_rate=1.5"):
        threshold_for(stats, false_alarm_rate=1.5)


def test_calibration_samples_spread_clips_and_stats_are_plain():
    store = FrameStore(["a", "b"], [30, 20], np.zeros((50, 32, 32), np.uint8))
    assert len(sample_clips(store, 16, 1000)) == 15 + 5
    pairs = sample_clips(store, 16, 8)
    assert len(pairs) == len(set(pairs)) == 8
    stats = calibrate(ConvAE3D(width=0.125).eval(), store, 16, 8, max_clips=8, batch_size=3)
    assert stats["n"] == 8 and len(stats["psnr"]) == 8
    assert all(isinstance(v, float) for v in stats["psnr"])


def test_heatmap_overlay_leaves_well_reconstructed_pixels_plain():
    image = np.full((8, 8), 100, np.uint8)
    error = np.zeros((8, 8), np.float32)
    error[2:4, 2:4] = 1.0
    rgb = heatmap_overlay(image, error, vmax=0.5)
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8
    assert (rgb[0, 0] == 100).all() and not (rgb[2, 2] == 100).all()


def test_overlay_frame_upsamples_the_error_map_to_the_input():
    from lnta.deploy.overlay import upsample

    original = np.full((60, 100), 100, np.uint8)
    error = np.zeros((16, 16), np.float32)
    error[:, 8:] = 1.0  # the right half of the model's frame
    up = upsample(error, (60, 100))
    assert up.shape == (60, 100) and up[:, :45].max() < 0.05 and up[:, 56:].min() > 0.95
    rgb = overlay_frame(original, error, vmax=0.5, text="frame 3  score 1.00")
    assert rgb.shape == (60, 100, 3) and (rgb[40, 10] == 100).all()  # plain where reconstructed well


def test_stream_scores_and_error_maps_are_the_evaluation_paths_on_the_same_clips():
    """``lnta.score``'s scorer and ``lnta.eval``'s test step (LNTAModule.test_step) give the same PSNR and
    the same error map (:func:`lnta.metrics.protocol.error_map`) for every clip (edges=drop: the same clips)."""
    from lnta.data.sampling import REFERENCE_CENTER
    from lnta.models.module import LNTAModule

    torch.manual_seed(0)
    model = ConvAE3D(width=0.125).eval()
    frames = np.random.default_rng(0).integers(0, 256, (20, 32, 32), dtype=np.uint8)
    results = list(score_frames(model, iter(frames), image_size=32, clip_len=16, center=REFERENCE_CENTER,
                                edges="drop", batch_size=3, maps=True))
    starts = [r.frame - REFERENCE_CENTER for r in results]
    clips = torch.from_numpy(np.stack([frames[s:s + 16] for s in starts])).unsqueeze(1)
    module = LNTAModule(model, center=REFERENCE_CENTER, error_maps=True).eval()
    with torch.no_grad():
        out = module.test_step({"clip": clips, "video": torch.zeros(len(starts)), "frame": torch.tensor(starts)}, 0)
    # Same clips, same model, but not the same batches (the stream's 3 + 2, the test step's 5): oneDNN may pick
    # other conv kernels per batch shape (on Intel AMX CPUs it does: 4.220775127 vs 4.220774651 dB), so equal up to
    # float rounding, not bit for bit. A wrong frame, clip or normalisation is off by orders of magnitude more.
    np.testing.assert_allclose([r.psnr for r in results], out["psnr"].numpy(), rtol=1e-5, atol=0)
    np.testing.assert_allclose(np.stack([r.error for r in results]), out["error"].numpy(), rtol=1e-4, atol=1e-6)
    # the overlay shows its square root: the absolute error of the grey frame, in [-1, 1] units
    absolute = (out["reconstruction"] - out["input"]).abs().numpy()
    np.testing.assert_allclose(np.sqrt(np.stack([r.error for r in results])), absolute, atol=1e-6)


def test_overlay_colours_the_absolute_error_heatmap_max_the_hottest():
    """``heatmap_max`` is in absolute units: a squared error of 0.25 (absolute 0.5) is drawn as an absolute
    0.5 would be, the hottest colour at heatmap_max=0.5."""
    image = np.full((64, 64), 100, np.uint8)
    squared = np.zeros((64, 64), np.float32)
    squared[24:40, 24:40] = 0.25  # the centre, clear of the colour bar and the text box
    inside = (slice(26, 38), slice(26, 38))
    shown = overlay_frame(image, squared, vmax=0.5, text="")
    np.testing.assert_array_equal(shown[inside], heatmap_overlay(image, np.sqrt(squared), vmax=0.5)[inside])
    hottest = heatmap_overlay(image, np.full((64, 64), 0.5, np.float32), vmax=0.5)
    np.testing.assert_array_equal(shown[inside], hottest[inside])
    assert (shown[10, 10] == 100).all()


def test_find_sources(tmp_path):
    frames = np.zeros((3, 16, 16), np.uint8)
    write_avi(tmp_path / "cam1.avi", frames)
    folder = tmp_path / "clip2"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(b"")
    assert [(s.name, s.kind) for s in find_sources(str(tmp_path))] == [("cam1", "video"), ("clip2", "frames")]
    assert find_sources(str(folder))[0].kind == "frames"
    assert find_sources(str(tmp_path / "cam1.avi"))[0].info() == (3, 25.0)
    assert find_sources("/dev/video0", "v4l2")[0].kind == "device"
    with pytest.raises(DataError, match="no such file"):
        find_sources(str(tmp_path / "missing.mp4"))
    (tmp_path / "__MACOSX").mkdir()  # the metadata folder of an unpacked macOS zip is skipped
    (tmp_path / "__MACOSX" / "0.png").write_bytes(b"")
    assert [s.name for s in find_sources(str(tmp_path))] == ["cam1", "clip2"]
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="not a video file"):
        find_sources(str(tmp_path / "notes.txt"))


def test_avi_frames_decode_exactly_and_score_like_arrays(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (20, 32, 32), dtype=np.uint8)
    write_avi(tmp_path / "v.avi", frames)
    source = find_sources(str(tmp_path / "v.avi"))[0]
    assert np.array_equal(np.stack(list(source.frames())), frames)
    model = ConvAE3D(width=0.125).eval()
    kwargs = dict(image_size=32, clip_len=16, center=8, batch_size=3)
    from_file = [r.psnr for r in score_frames(model, source.frames(), **kwargs)]
    from_array = [r.psnr for r in score_frames(model, iter(frames), **kwargs)]
    assert len(from_file) == 20 and from_file == from_array


_RSS_PROBE = """
import json, resource, sys, torch
from lnta.models import ConvAE3D
from lnta.deploy.stream import find_sources, score_frames
torch.set_num_threads(1)
model = ConvAE3D(width=0.125).eval()
def peak_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def run(limit):
    n = 0
    for r in score_frames(model, find_sources(sys.argv[1])[0].frames(), image_size=16, clip_len=16, center=8,
                          batch_size=16):
        n += 1
        if n == limit: break
    return n
run(100)  # warm up: allocator, model, decoder
before = peak_mb()
n = run(None)
print(json.dumps({"frames": n, "growth_mb": peak_mb() - before}))
"""


@pytest.mark.slow
def test_streaming_a_long_video_keeps_memory_bounded(tmp_path):
    n, side = 600, 224  # 600 decoded frames would hold 29 MiB as uint8 gray (x3 as RGB)
    t = np.arange(n)[:, None, None]
    yy, xx = np.mgrid[0:side, 0:side]
    frames = ((xx[None] + 2 * t + yy[None]) % 256).astype(np.uint8)
    write_avi(tmp_path / "long.avi", frames)
    result = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(tmp_path / "long.avi")], cwd=REPO,
                            capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["frames"] == n
    assert measured["growth_mb"] < 0.25 * frames.nbytes / 2**20, measured
