"""gated_unet: gates stay in (0, 1), a closed gate is exactly a removed skip, gates are stored."""

from __future__ import annotations

import math

import pytest
import torch

from segbench.models.build import build_model

TINY = {"channels": [4, 8, 16], "strides": [2, 2]}


def _noskip_weights_from(gated: torch.nn.Module, noskip: torch.nn.Module) -> None:
    """Copy gated weights into noskip: names lose ``.submodule``; decoder inputs drop the skip channels
    (MONAI concatenates ``[skip, below]``, so the skip channels come first)."""
    source = {n.replace(".submodule", ""): t for n, t in gated.state_dict().items() if "logit" not in n}
    target = noskip.state_dict()
    assert set(target) == set(source)
    for name, tensor in target.items():
        value = source[name]
        for dim, (a, b) in enumerate(zip(value.shape, tensor.shape, strict=True)):
            if a != b:
                value = value.narrow(dim, a - b, b)
        target[name] = value.clone()
    noskip.load_state_dict(target)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("per_channel", [False, True])
def test_closed_gates_equal_noskip_forward(dims: int, per_channel: bool) -> None:
    torch.manual_seed(0)
    params = {**TINY, "num_res_units": 1}
    gated = build_model("gated_unet", {**params, "per_channel": per_channel}, spatial_dims=dims)
    noskip = build_model("noskip_unet", params, spatial_dims=dims)
    for p in gated.parameters():  # non-trivial weights everywhere (biases too)
        torch.nn.init.normal_(p, std=0.3)
    with torch.no_grad():
        for gate in gated.gate_modules():
            gate.logit.fill_(-math.inf)  # sigmoid(-inf) == 0 exactly
    _noskip_weights_from(gated, noskip)
    x = torch.randn(2, 1, *(16,) * dims)
    gated.eval(), noskip.eval()
    with torch.no_grad():
        assert all(v == 0.0 for level in gated.gate_values() for v in level)
        out_gated, out_noskip = gated(x), noskip(x)
    # exact zeros feed the skip channels; only the convolution's summation order may differ
    torch.testing.assert_close(out_gated, out_noskip, rtol=0, atol=1e-6)
    assert out_gated.abs().max() > 1e-3  # not a trivially zero network


def test_gates_open_and_bounded_after_training_steps() -> None:
    torch.manual_seed(0)
    model = build_model("gated_unet", {**TINY, "per_channel": True, "gate_l1": 0.5}, spatial_dims=2)
    values = model.gate_values()
    assert [len(v) for v in values] == [4, 8]  # top level first, one gate per skip channel
    assert all(v == pytest.approx(0.95) for level in values for v in level)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    before = model.regularization_loss().item()
    for _ in range(5):  # L1 alone: gates must move towards closed but stay strictly inside (0, 1)
        optimizer.zero_grad()
        model.regularization_loss().backward()
        optimizer.step()
    after = model.gate_values()
    assert model.regularization_loss().item() < before
    assert all(0.0 < v < 1.0 for level in after for v in level)
    # gate_speed 10: five Adam steps of 0.05 move each logit by ~2.5 (0.95 -> ~0.6), not by ~0.25
    assert all(v < 0.8 for level in after for v in level)
    assert before == pytest.approx(0.5 * 2 * 0.95)  # gate_l1 * sum over 2 levels of mean gate


@pytest.mark.parametrize(
    "bad", [{"gate_init": 1.0}, {"gate_init": 0.0}, {"gate_l1": -1.0}, {"gate_speed": 0.0}]
)
def test_bad_gate_arguments_raise(bad: dict) -> None:
    with pytest.raises(ValueError, match="gate_"):
        build_model("gated_unet", {**TINY, **bad}, spatial_dims=2)


@pytest.mark.slow
def test_gates_are_stored_per_job_and_plotted(tmp_path) -> None:
    import json

    import yaml

    from segbench import api
    from segbench.report.build import build_reports
    from segbench.report.section_gates import gate_table
    from segbench.store import Store

    suite = {
        "name": "gates",
        "seeds": [1, 2],
        "train": {"epochs": 1, "batch_size": 4, "lr": 0.01, "val_every": 1},
        "models": [{"name": "gated_unet", "params": {"channels": [4, 8, 16], "strides": [2, 2]}}],
        "datasets": [{"name": "textures2d", "params": {"size": 32, "n_images": 15}}],
        "complexity": [0.2, 0.8],
        "perturbations": ["none", {"name": "gaussian_noise", "severity": 3}],
    }
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump(suite))
    results = tmp_path / "results"
    assert api.run_suite(path, results, quiet=True).ok
    jobs = Store(results).jobs("gates")
    gates = [json.loads(info)["gates"] for info in jobs["train_info"]]
    assert len(gates) == 4 and all(len(g) == 2 and 0 < g[0][0] < 1 for g in gates)
    table = gate_table(jobs)
    assert len(table) == 2 * 2 and set(table["n_seeds"]) == {2}  # complexity x level, two seeds each
    assert ((table["gate_min"] <= table["gate_mean"]) & (table["gate_mean"] <= table["gate_max"])).all()
    [report] = build_reports(results, tmp_path / "reports")
    page = report.index.read_text()
    assert "What did the gated skips learn?" in page and 'id="gates-0"' in page
    assert "Does the model know when it fails?" in page and 'id="rc-0"' in page
    assert (report.index.parent / "failure_detection.csv").exists()
    cases = (report.index.parent / "cases.csv").read_text().splitlines()[0]
    assert "entropy" in cases.split(",")
