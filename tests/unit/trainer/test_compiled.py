"""inference_compile: the frozen graph gives the model's outputs, follows weight changes, compiles
once per test set, and falls back to eager where nothing can be compiled."""
import logging

import pytest
import torch

from lnta.models import ConvAE3D
from lnta.trainer.compiled import FrozenForward, compile_failure_reason, compiled_last, inference_forward
from lnta.trainer.precision import resolve_speed
from tests.conftest import inductor_compiles


@pytest.fixture
def needs_inductor():
    """Asked when a test runs, not at collection: finding out compiles."""
    if not inductor_compiles():
        pytest.skip("torch.compile cannot compile the AE's test forward here (no C++ compiler or Python headers, or a torch whose Inductor freezing fails on ConvTranspose3d, as 2.4's does)")


needs_compiler = pytest.mark.usefixtures("needs_inductor")


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = ConvAE3D(width=0.125)
    with torch.no_grad():  # BatchNorm statistics that are not the identity, so folding them matters
        model.train()(torch.rand(4, 1, 16, 16, 16) * 2 - 1)
    return model.eval()


def _clips(n: int) -> torch.Tensor:
    torch.manual_seed(100)
    return torch.rand(n, 1, 16, 16, 16) * 2 - 1


@needs_compiler
def test_frozen_graph_gives_the_model_outputs_and_pads_a_smaller_last_batch(caplog):
    model = _model(0)
    frozen = FrozenForward(model)
    with torch.inference_mode(), caplog.at_level(logging.INFO, logger="lnta.compiled"):
        x = _clips(4)  # inputs made under inference_mode, as test_step makes them
        eager = model(x)
        out = frozen(x)
        assert frozen.compiled and frozen.compiles == 1
        assert torch.allclose(out, eager, atol=1e-5)  # fp32: BatchNorm folded, float reassociation only
        last = frozen(x[:3])  # the last, smaller batch of a test set: padded, no second graph
        assert last.shape == (3, *x.shape[1:])
        assert frozen.compiles == 1 and torch.allclose(last, eager[:3], atol=1e-5)
    # issue 25 item 3: a compile is never silent: one line before it, one with its duration after
    lines = [r.getMessage() for r in caplog.records]
    assert len([m for m in lines if m.startswith("inference_compile: compiling the test forward")]) == 1
    assert len([m for m in lines if m.startswith("inference_compile: compiled in ")]) == 1


@needs_compiler
def test_weights_changed_in_place_are_never_served_from_the_old_graph():
    """Freezing bakes the weights into the graph; load_state_dict must recompile, not return the
    previous weights' reconstruction."""
    model = _model(0)
    frozen = FrozenForward(model)
    with torch.inference_mode():
        x = _clips(2)
        before = frozen(x)
    model.load_state_dict(_model(1).state_dict())
    with torch.inference_mode():
        after, eager = frozen(x), model(x)
    assert frozen.compiles == 2
    assert not torch.allclose(after, before, atol=1e-3)
    assert torch.allclose(after, eager, atol=1e-5)


@needs_compiler
def test_a_new_model_never_meets_an_earlier_models_graph():
    """lnta.eval tests one checkpoint after another, each a new module."""
    x = _clips(2)
    with torch.inference_mode():
        first = FrozenForward(_model(0))(x)
    model = _model(1)
    with torch.inference_mode():
        second, eager = FrozenForward(model)(x), model(x)
    assert not torch.allclose(first, second, atol=1e-3)
    assert torch.allclose(second, eager, atol=1e-5)


def test_training_or_autograd_runs_the_eager_model():
    model = _model(0)
    frozen = FrozenForward(model)
    x = _clips(2)
    with torch.no_grad():
        model.train()
        frozen(x)
        assert not frozen.compiled and frozen.compiles == 0
    model.eval()
    out = frozen(x)  # autograd on: a frozen graph has no backward
    assert out.requires_grad and not frozen.compiled and frozen.compiles == 0


def test_no_cpp_compiler_falls_back_to_eager_with_one_warning(caplog):
    import torch._inductor.config as inductor_config

    model = _model(0)
    frozen = FrozenForward(model)
    no_compiler = inductor_config.patch({"cpp.cxx": ("/nonexistent/g++",)})  # (monkeypatch's undo breaks this config)
    with no_compiler, caplog.at_level(logging.WARNING, logger="lnta.compiled"), torch.inference_mode():
        x = _clips(3)
        outs = [frozen(x), frozen(x[:2])]
        eager = model(x)
    warnings = [r for r in caplog.records if r.name == "lnta.compiled"]
    assert len(warnings) == 1 and "inference_compile: torch.compile failed" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    assert not frozen.compiled and not compiled_last(frozen)
    assert torch.equal(outs[0], eager) and torch.equal(outs[1], eager[:2])


def test_inference_forward_wraps_only_where_the_speed_says_so():
    model = _model(0)
    assert inference_forward(resolve_speed("exact", "cpu", inference_compile=True), model) is model
    assert isinstance(inference_forward(resolve_speed("fast", "cpu", inference_compile=True), model), FrozenForward)
    assert inference_forward(resolve_speed("fast", "cpu", inference_compile=False), model) is model
    assert not compiled_last(model)


@pytest.mark.parametrize("message, expected", [
    # torch 2.4's freezing of a strided ConvTranspose3d: the cause is on the line after "raised:"
    ("backend='inductor' raised:\nRuntimeError: expected padding to be a single integer value\n\nWhile executing",
     "RuntimeError: expected padding to be a single integer value"),
    ("InvalidCxxCompiler: No working C++ compiler found", "InvalidCxxCompiler: No working C++ compiler found"),
    ("", "RuntimeError"),
    ("backend='inductor' raised:\n", "RuntimeError"),
])
def test_a_failed_compile_is_named_by_its_cause_on_one_line(message, expected):
    assert compile_failure_reason(RuntimeError(message)) == expected
