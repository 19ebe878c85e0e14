"""uint8 frames to the model's [-1, 1] range, done on the training device."""
import torch


def to_unit(frames: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1] as ``x / 127.5 - 1`` (the reference scaling)."""
    return frames.float().div_(127.5).sub_(1.0)  # in place: one full-size allocation, same values
