"""What a suite holds out of training, in words: printed by ``segbench run --dry-run``.

Why: a datalist without a ``validation`` list used to give up 2 of its 20 training images to
a seeded split without saying so.  These lines name the held-out cases (or say that none are,
with ``train.validation: none``) before anything trains; the job stores the same split.
"""

from __future__ import annotations

from segbench.registry import DATASETS
from segbench.suite.schema import Suite

__all__ = ["held_out_lines"]

_SHOWN = 8


def held_out_lines(suite: Suite) -> list[str]:
    """One line per real dataset of ``suite``: validation cases held out of training, and why."""
    out = []
    for spec in suite.datasets:
        try:
            hook = DATASETS.get(spec.name).meta.get("split")
        except LookupError:
            continue
        parts = hook(dict(spec.params)) if callable(hook) else None
        if parts is None:
            continue
        train, val, test = parts["train"], parts["val"], parts["test"]
        if suite.train.validation == "none":
            out.append(
                f"  {spec.name}: validation none: all {len(train) + len(val)} training cases train, "
                f"the last epoch is kept; {len(test)} test cases"
            )
            continue
        if not val:
            out.append(f"  {spec.name}: no validation cases (split share 0): the last epoch is kept")
            continue
        source = "the dataset's own validation list" if parts["val_listed"] else "the seeded split"
        shown = ", ".join(val[:_SHOWN]) + (", ..." if len(val) > _SHOWN else "")
        out.append(
            f"  {spec.name}: {len(val)} of {len(train) + len(val)} training cases held out for validation "
            f"({source}; best checkpoint kept): {shown}"
        )
    return out
