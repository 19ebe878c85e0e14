"""The reference autoencoder: parameter count, shapes, layer names."""
import torch

from lnta.models import ConvAE3D


def test_reference_parameter_count():
    assert sum(p.numel() for p in ConvAE3D().parameters()) == 5_980_801


def test_reference_shapes():
    model = ConvAE3D().eval()
    x = torch.zeros(1, 1, 16, 256, 256)
    with torch.no_grad():
        latent = model.encoder(x)
        out = model.decoder(latent)
    assert latent.shape == (1, 256, 2, 16, 16)
    assert out.shape == x.shape
    assert out.abs().max() <= 1  # Tanh output


def test_layer_positions_match_the_authors_sequentials():
    names = {k.rsplit(".", 1)[0] for k in ConvAE3D().state_dict() if k.endswith("weight")}
    assert names == {f"encoder.{i}" for i in (0, 1, 3, 4, 6, 7, 9, 10)} | \
                    {f"decoder.{i}" for i in (0, 1, 3, 4, 6, 7, 9)}


def test_width_scales_channels():
    small = ConvAE3D(width=0.25)
    assert small.encoder[0].out_channels == 24 and small.encoder[9].out_channels == 64
    assert small(torch.zeros(2, 1, 16, 32, 32)).shape == (2, 1, 16, 32, 32)


def test_fewer_stages_downsample_less_and_keep_the_reference_names():
    two = ConvAE3D(width=0.25, stages=2)
    # 1 -> 24 (stride 1,2,2) -> 32 (stride 2), mirrored: 27*24+24 + 2*24 + 27*24*32+32 + 2*32
    # + 27*32*24+24 + 2*24 + 27*24+1
    assert sum(p.numel() for p in two.parameters()) == 43_009
    x = torch.zeros(2, 1, 16, 64, 64)
    assert two.encoder(x).shape == (2, 32, 8, 16, 16) and two(x).shape == x.shape
    assert ConvAE3D.factors(2) == (2, 4) and ConvAE3D.factors() == (8, 16)
    names = {k.rsplit(".", 1)[0] for k in two.state_dict() if k.endswith("weight")}
    assert names == {"encoder.0", "encoder.1", "encoder.3", "encoder.4", "decoder.0", "decoder.1", "decoder.3"}


def test_stages_out_of_range_are_one_line_errors():
    import pytest

    from lnta.errors import ConfigError
    for bad in (0, 5, True):
        with pytest.raises(ConfigError, match="model.stages"):
            ConvAE3D(stages=bad)
