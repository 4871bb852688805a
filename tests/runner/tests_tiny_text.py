"""Suite text builder shared by the runner tests."""

from __future__ import annotations

TEMPLATE = """\
name: {name}
seeds: [1]
train: {{epochs: 10, batch_size: 4, lr: 0.01, val_every: 1}}
models:
{models}
datasets:
  - name: textures2d
    params: {{size: 32, n_images: 40, fg_texture: noise, bg_texture: stripes}}
complexity: [0.2]
perturbations: [none, {{name: gaussian_noise, severity: 2}}]
"""


def tiny_with_models(models: list[str], name: str) -> str:
    """The tiny suite with other models (registered ones get tiny channels)."""
    lines = [
        f"  - '{m}'" if ":" in m else f"  - {{name: {m}, params: {{channels: [4, 8, 16], strides: [2, 2]}}}}"
        for m in models
    ]
    return TEMPLATE.format(name=name, models="\n".join(lines))
