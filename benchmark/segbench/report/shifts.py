"""The suite's test-time shifts under the names the suite gave them, and what each did to the task.

Why: the suite says ``harder`` and ``easiest`` (presets), the store keeps what ran (``speckle`` s2,
``blur_background`` s4). A reader should meet the suite's name everywhere (columns, headline), with
its definition in a legend; and whether a shift makes the task easier or harder is measured (the
reference model's in-domain vs shifted Dice), not assumed from its name — in the quick suite
"easier" background blur lowers Dice for some models.

A shift is one entry of the suite's ``perturbations`` list: a preset (one condition), a name with
severities (its conditions; the column is their mean), or a bare name (every stored severity).
Stored conditions that no entry names (a renamed suite, dataset shifts ``site_B+speckle``) form one
shift per perturbation name. Pure: values in, values out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.store.read import SuiteDefinition

__all__ = ["Shift", "ShiftEffect", "shift_effects", "suite_shifts"]

#: a change of mean Dice smaller than this is reported as "about the same", not easier or harder
SAME_DICE = 0.01


@dataclass(frozen=True)
class Shift:
    """One named test-time shift.

    Attributes:
        name: the suite's name (``harder``, ``gaussian_noise``).
        conditions: the stored ``(perturbation, severity)`` pairs it covers.
    """

    name: str
    conditions: tuple[tuple[str, int], ...]

    @property
    def definition(self) -> str:
        """What ran, e.g. ``speckle s2`` or ``gaussian_noise s2, s4``."""
        perts = dict.fromkeys(p for p, _ in self.conditions)
        parts = []
        for p in perts:
            sev = [s for q, s in self.conditions if q == p]
            parts.append(f"{p} " + ", ".join(f"s{s}" for s in sev) if any(sev) else p)
        return "; ".join(parts)

    def mask(self, cases: pd.DataFrame) -> pd.Series:
        """Rows of ``cases`` under this shift."""
        pairs = set(self.conditions)
        keys = zip(cases["perturbation"].astype(str), cases["severity"].fillna(0).astype(int), strict=True)
        return pd.Series([k in pairs for k in keys], index=cases.index, dtype=bool)


@dataclass(frozen=True)
class ShiftEffect:
    """What a shift did to the reference model's mean Dice (mean over the blocks where both exist)."""

    shift: str
    model: str
    in_domain: float
    shifted: float

    @property
    def verdict(self) -> str:
        """``harder``, ``easier`` or ``about the same`` (|change| < :data:`SAME_DICE`)."""
        change = self.shifted - self.in_domain
        if math.isnan(change):
            return "not measured"
        if abs(change) < SAME_DICE:
            return "about the same"
        return "harder" if change < 0 else "easier"


def suite_shifts(suite: SuiteDefinition, cases: pd.DataFrame) -> list[Shift]:
    """The shifts of ``cases`` named as the suite names them, in suite order.

    Args:
        suite: the stored suite (its ``perturbations`` list, :attr:`SuiteDefinition.shifts`).
        cases: per-case rows with ``perturbation`` and ``severity``.

    Returns:
        One :class:`Shift` per suite entry with stored conditions, then one per perturbation name for
        stored conditions no entry covers (alphabetical).
    """
    shifted = cases[cases["perturbation"].astype(str) != IN_DOMAIN]
    present = list(
        dict.fromkeys(
            zip(shifted["perturbation"].astype(str), shifted["severity"].fillna(0).astype(int), strict=True)
        )
    )
    present.sort(key=lambda c: (c[0], c[1]))
    out: list[Shift] = []
    covered: set[tuple[str, int]] = set()
    for name, conds in _entries(suite, present):
        hit = tuple(c for c in conds if c in present)
        if hit and name not in {s.name for s in out}:
            out.append(Shift(name, hit))
            covered.update(hit)
    rest = [c for c in present if c not in covered]
    for pert in dict.fromkeys(p for p, _ in rest):
        out.append(Shift(pert, tuple(c for c in rest if c[0] == pert)))
    return out


def shift_effects(cases: pd.DataFrame, shifts: list[Shift], reference: str) -> dict[str, ShiftEffect]:
    """Per shift: the reference model's in-domain and shifted mean Dice, seed-averaged per case.

    The reference is the suite's baseline model; when it has no rows, the mean over all models is
    used (named ``all models``). Each (dataset, complexity) block counts once.
    """
    model = reference if (cases["model"].astype(str) == reference).any() else ""
    rows = cases[cases["model"].astype(str) == model] if model else cases
    if "test_complexity" in rows:
        rows = rows[rows["test_complexity"].isna()]
    block = ["dataset", "complexity"]
    ind = rows[rows["perturbation"].astype(str) == IN_DOMAIN]
    id_means = ind.groupby(block, dropna=False)["dice"].mean()
    out = {}
    for s in shifts:
        sh = rows[s.mask(rows)].groupby(block, dropna=False)["dice"].mean()
        both = pd.concat([id_means.rename("id"), sh.rename("sh")], axis=1).dropna()
        out[s.name] = ShiftEffect(
            s.name,
            model or "all models",
            float(both["id"].mean()) if len(both) else math.nan,
            float(both["sh"].mean()) if len(both) else math.nan,
        )
    return out


def _entries(
    suite: SuiteDefinition, present: list[tuple[str, int]]
) -> list[tuple[str, list[tuple[str, int]]]]:
    """(name, conditions) per entry of the suite's ``perturbations`` list (``none`` left out); a bare
    name covers every stored severity of its perturbation."""
    return [
        (s.name, list(s.conditions) if s.conditions is not None else [c for c in present if c[0] == s.name])
        for s in suite.shifts
    ]
