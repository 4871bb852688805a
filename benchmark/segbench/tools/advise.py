"""``segbench advise``: how complex is *my* task, and which architecture does the evidence favour there?

Three steps, each a function of values (the CLI adds the I/O):

1. ``tools.dataset_profile.measure_dataset`` measures the user's labelled cases with the
   benchmark's own measures: the LBP-KL separability of foreground and background texture for 2D
   (``metrics.complexity.lbp_kl``, larger = easier), the foreground ratio (FBR) of volumes for 3D
   (plus the FBR of a foreground-centred crop at candidate patch sizes, the context study's knob).
2. :func:`advise` places the dataset's median on the measured per-case curves of a results store: it
   takes the stored in-domain test cases whose measured value lies within the dataset's interquartile
   range (at least ``min_cases`` nearest cases), averages each case over training seeds (the case is the
   unit), and compares models on those *same* cases: mean Dice with a bootstrap CI, and a paired
   bootstrap CI of the best model's lead over each other model. Robustness is the same comparison on
   the shifted test conditions of those cases.
3. The verdict says which architectures the evidence favours, how strongly, and what it cannot say.
   The strength is graded by the paired CIs (every lead excludes 0: strong; some: moderate; none: the
   evidence does not separate them) *and* by the distance between the user's data and the stored cases
   (:func:`grade`): how many of the user's cases fall inside the measured range, image size, and
   modality. Synthetic evidence for real data is never "strong", however narrow its intervals.
   A dataset whose median lies outside the central 95% of the measured values gets no recommendation:
   the benchmark never extrapolates.

The dataset is any registered dataset (its name plus parameters), or a path that the registry's
real-data readers accept (a MONAI datalist JSON -> ``datalist``, an nnU-Net raw folder -> ``nnunet``);
the readers are looked up in the registry by name, so any reader that registers itself works.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.seeding import derive_rng
from segbench.store.read import json_mapping
from segbench.tools.dataset_profile import MEASURES, DatasetProfile

__all__ = [
    "Advice",
    "ModelEvidence",
    "advise",
    "grade",
    "stored_evidence",
]


@dataclass
class ModelEvidence:
    """One model at the dataset's point: in-domain and shifted Dice, and its paired gap to the best."""

    model: str
    n_cases: int
    n_seeds: int
    dice: float
    dice_low: float
    dice_high: float
    shifted: float = math.nan
    shifted_low: float = math.nan
    shifted_high: float = math.nan
    gap: float = math.nan  # best model minus this model, paired over cases (in-domain)
    gap_low: float = math.nan
    gap_high: float = math.nan
    shift_gap: float = math.nan  # best model under shift minus this model, paired over cases
    shift_gap_low: float = math.nan
    shift_gap_high: float = math.nan


@dataclass
class Advice:
    """The verdict with its evidence and limits (``text()`` for the terminal, ``html()`` for the page)."""

    profile: DatasetProfile
    measured_range: tuple[float, float]
    inside: bool
    window: tuple[float, float] = (math.nan, math.nan)
    n_window_cases: int = 0
    models: list[ModelEvidence] = field(default_factory=list)
    favoured: list[str] = field(default_factory=list)
    strength: str = "none"
    robust_favoured: list[str] = field(default_factory=list)
    cannot_say: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    curves: pd.DataFrame | None = None  # model, x, dice, low, high, n per bin of the measure
    evidence_real: bool = False  # some stored source read real files (see :func:`stored_evidence`)
    evidence_sizes: list[int] = field(default_factory=list)  # image sizes of the stored sources
    distance: str = ""  # "close", "moderate" or "far" (:func:`grade`)
    distance_notes: list[str] = field(default_factory=list)

    def headline(self) -> str:
        p, (lo, hi) = self.profile, self.measured_range
        if not self.inside:
            side = _side(p.measure, p.median, lo, hi)
            return (
                f"No recommendation: {p.name}'s median {p.measure} = {p.median:.3g} is outside the measured "
                f"range [{lo:.3g}, {hi:.3g}] ({side}); the benchmark does not extrapolate."
            )
        robust = " and ".join(self.robust_favoured)
        verb = "hold" if len(self.robust_favoured) > 1 else "holds"
        shift = f"; under shift, {robust} {verb} up best" if robust else ""
        if not self.favoured:
            return (
                f"The in-domain evidence does not separate the models at {p.measure} = {p.median:.3g}{shift}."
            )
        near = _NEAR.get(self.distance, "at an unknown distance from")
        return (
            f"At {p.measure} = {p.median:.3g} the evidence favours {' and '.join(self.favoured)} "
            f"in-domain ({self.strength} evidence; the stored cases are {near} {p.name}){shift}."
        )

    def text(self) -> str:
        """Plain-text report for the terminal."""
        p = self.profile
        lines = [self.headline(), ""]
        lo, hi = p.iqr
        lines.append(
            f"dataset {p.name}: {len(p.values)} cases, {p.spatial_dims}D, {p.measure} median {p.median:.3g} "
            f"(IQR {lo:.3g}-{hi:.3g}); measured range "
            f"{self.measured_range[0]:.3g}-{self.measured_range[1]:.3g}"
        )
        for size, fbr in sorted(p.patch_fbr.items()):
            lines.append(f"  foreground-centred {size}^3 crop: median FBR {fbr:.3g}")
        kind = "real" if self.evidence_real else "synthetic"
        lines.append(
            f"distance to the evidence: {self.distance or 'not graded'} ("
            + "; ".join(self.distance_notes or [f"{kind} stored cases"])
            + ")"
        )
        if self.inside:
            lines.append(
                f"evidence: {self.n_window_cases} measured {kind} test cases with {p.measure} in "
                f"[{self.window[0]:.3g}, {self.window[1]:.3g}] from {', '.join(self.sources)}"
            )
            lines.append(
                f"  {'model':<18} {'Dice [95% CI]':<24} {'best - model':<24} "
                f"{'under shift [95% CI]':<24} best under shift - model"
            )
            for m in self.models:
                lines.append(
                    f"  {m.model:<18} {_ci(m.dice, m.dice_low, m.dice_high):<24} "
                    f"{_ci(m.gap, m.gap_low, m.gap_high):<24} "
                    f"{_ci(m.shifted, m.shifted_low, m.shifted_high):<24} "
                    f"{_ci(m.shift_gap, m.shift_gap_low, m.shift_gap_high)}"
                )
        if self.cannot_say:  # never an empty heading
            lines.append("what this cannot say:")
            lines += [f"  - {c}" for c in self.cannot_say]
        return "\n".join(lines)

    def html(self, plotly_src: str | None = None) -> str:
        """An HTML page with the same content; with ``plotly_src`` (path of plotly.min.js) also the
        measured curves with the dataset's position drawn on them."""
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(m.model)}</td><td>{m.n_cases}</td><td>{m.n_seeds}</td>"
            f"<td>{e(_ci(m.dice, m.dice_low, m.dice_high))}</td>"
            f"<td>{e(_ci(m.shifted, m.shifted_low, m.shifted_high))}</td>"
            f"<td>{e(_ci(m.gap, m.gap_low, m.gap_high))}</td>"
            f"<td>{e(_ci(m.shift_gap, m.shift_gap_low, m.shift_gap_high))}</td></tr>"
            for m in self.models
        )
        table = (
            "<table><tr><th>model</th><th>cases</th><th>seeds</th><th>Dice [95% CI]</th>"
            f"<th>under shift [95% CI]</th><th>best − model [95% CI]</th>"
            f"<th>best under shift − model [95% CI]</th></tr>{rows}</table>"
            if self.models
            else ""
        )
        body = "\n".join(
            f"<p>{e(line)}</p>" for line in self.text().splitlines()[2:] if not line.startswith("  ")
        )
        limits = "".join(f"<li>{e(c)}</li>" for c in self.cannot_say)
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>segbench advise: "
            f"{e(self.profile.name)}</title><style>body{{font-family:sans-serif;max-width:60em;"
            "margin:2em auto}"
            "td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
            f"<h1>segbench advise: {e(self.profile.name)}</h1><p><strong>{e(self.headline())}</strong></p>"
            f"{body}{table}{self._figure(plotly_src)}<h2>What the evidence cannot say</h2><ul>{limits}</ul>"
            "</body></html>"
        )

    def _figure(self, plotly_src: str | None) -> str:
        if plotly_src is None or self.curves is None or self.curves.empty:
            return ""
        import plotly.graph_objects as go

        from segbench.report.figures import style

        p, (lo, hi) = self.profile, self.measured_range
        fig = go.Figure()
        for model, g in self.curves.groupby("model", sort=True):
            fig.add_trace(
                go.Scatter(
                    x=g["x"],
                    y=g["dice"],
                    mode="lines+markers",
                    name=str(model),
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": g["high"] - g["dice"],
                        "arrayminus": g["dice"] - g["low"],
                    },
                )
            )
        a, b = p.iqr
        fig.add_vrect(
            x0=a, x1=b, fillcolor="orange", opacity=0.25, line_width=0, annotation_text="your dataset (IQR)"
        )
        fig.add_vline(x=p.median, line_dash="dash", line_color="orange")
        fig.add_vrect(
            x0=lo,
            x1=hi,
            fillcolor="grey",
            opacity=0.06,
            line_width=0,
            annotation_text="measured range",
            annotation_position="bottom left",
        )
        style(
            fig,
            title=f"measured in-domain Dice vs {MEASURES[p.spatial_dims][1]} (bars: 95% CI over cases)",
            xaxis_title=MEASURES[p.spatial_dims][1],
            yaxis_title="mean Dice",
            height=420,
        )
        div = fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        return f"<script src='{html.escape(plotly_src)}'></script>{div}"


def advise(
    profile: DatasetProfile,
    cases: pd.DataFrame,
    min_cases: int = 20,
    n_resamples: int = 2000,
    coverage: float = 0.95,
    seed: int = 0,
    evidence: Mapping[str, Any] | None = None,
) -> Advice:
    """Place ``profile`` on the measured per-case curves in ``cases`` (``Store.cases()``) and judge.

    Args:
        profile: the measured dataset.
        cases: per-case results (``model``, ``suite``, ``dataset``, ``complexity``, ``case_id``,
            ``seed``, ``perturbation``, ``test_complexity``, ``dice`` and the profile's measure column).
        min_cases: fewest distinct measured cases the comparison uses. Defaults to 20.
        n_resamples: bootstrap resamples for every CI. Defaults to 2000.
        coverage: central share of the measured values that counts as "measured range". Defaults to 0.95.
        seed: bootstrap seed. Defaults to 0.
        evidence: what the stored sources are (:func:`stored_evidence`); ``None``: synthetic, sizes
            unknown.

    Returns:
        An :class:`Advice` (``inside=False`` and no favoured model outside the measured range).

    Raises:
        LookupError: the store holds no case with this measure (e.g. only 3D results for a 2D dataset).
    """
    x = profile.measure
    rows = _usable(cases, x)
    rows = rows.loc[np.array([_dims_of(d) in (None, profile.spatial_dims) for d in rows["dataset"]], bool)]
    in_domain = rows[rows["perturbation"] == IN_DOMAIN]
    if in_domain.empty:
        raise LookupError(
            f"advise: the results hold no in-domain test case with a measured {x!r}; run a "
            f"{profile.spatial_dims}D suite first (e.g. suites/quick.yaml)"
        )
    unit = ["suite", "dataset", "complexity", "case_id"]
    per_case = in_domain.groupby(unit, dropna=False)[x].first()
    tail = (1 - coverage) / 2
    lo, hi = float(per_case.quantile(tail)), float(per_case.quantile(1 - tail))
    advice = Advice(profile, (lo, hi), lo <= profile.median <= hi)
    advice.evidence_real = bool((evidence or {}).get("real", False))
    advice.evidence_sizes = sorted((evidence or {}).get("sizes", []))
    advice.sources = sorted(
        {f"{s}/{d}" for s, d in rows[["suite", "dataset"]].drop_duplicates().itertuples(index=False)}
    )
    advice.cannot_say = _limits(profile, advice, per_case)
    advice.curves = _curves(in_domain, per_case, unit, n_resamples, seed)
    if not advice.inside:
        grade(advice)
        return advice
    a, b = profile.iqr
    chosen = per_case[(per_case >= a) & (per_case <= b)]
    if len(chosen) < min_cases:
        chosen = per_case.iloc[
            np.argsort(np.abs(per_case.to_numpy() - profile.median), kind="mergesort")[:min_cases]
        ]
    advice.window = (float(chosen.min()), float(chosen.max()))
    advice.n_window_cases = len(chosen)
    in_window = rows.merge(chosen.index.to_frame(index=False), on=unit, how="inner")  # NaN keys match
    advice.models = _evidence(in_window, unit, n_resamples, seed)
    _judge(advice)
    grade(advice)
    return advice


def grade(advice: Advice) -> None:
    """Grade the distance between the user's data and the stored cases, and cap the strength by it.

    Distance: the share of the user's cases inside the measured range (>= 75 %: close, >= 50 %:
    moderate, else far), one step further when the image sizes differ by more than a factor 2, and
    "far" for real data judged on synthetic cases only. Strength: "strong" needs close evidence of
    the same kind; otherwise it becomes "moderate" (moderate distance) or "weak" (far); synthetic
    evidence for real data is at most "weak".
    """
    p, (lo, hi) = advice.profile, advice.measured_range
    inside = float(np.mean((p.values >= lo) & (p.values <= hi)))
    steps = 0 if inside >= 0.75 else 1 if inside >= 0.5 else 2
    notes = [f"{inside:.0%} of {p.name}'s cases inside the measured {p.measure} range"]
    if p.shape and advice.evidence_sizes:
        side = max(p.shape)
        near = min(advice.evidence_sizes, key=lambda s: abs(math.log(s / side)))
        notes.append(f"image size {side} px vs stored {', '.join(str(s) for s in advice.evidence_sizes)} px")
        steps += 1 if max(side / near, near / side) > 2 else 0
    kind = "real" if advice.evidence_real else "synthetic"
    notes.append(f"{'real' if p.real else 'generated'} data vs {kind} stored cases")
    if p.real and not advice.evidence_real:
        steps = 2
    advice.distance = ("close", "moderate", "far")[min(steps, 2)]
    advice.distance_notes = notes
    if advice.strength in ("strong", "moderate"):
        cap = ("strong", "moderate", "weak")[min(steps, 2)]
        order = ("weak", "moderate", "strong")
        advice.strength = min(advice.strength, cap, key=order.index)
    if p.real and not advice.evidence_real:
        advice.cannot_say.insert(
            0,
            f"Every stored case is synthetic: nothing here was measured on data like {p.name} (its modality, "
            "noise and annotation style); treat the verdict as a hypothesis to test on your data.",
        )


def stored_evidence(jobs: pd.DataFrame) -> dict[str, Any]:
    """What the stored sources are, from ``Store.jobs()``: any real (file-read) dataset, image sizes."""
    real, sizes = False, set()
    for config in jobs.get("config", pd.Series(dtype=object)).dropna():
        params = (json_mapping(config) or {}).get("dataset_params") or {}
        real |= isinstance(params.get("path") or params.get("root"), str)
        if isinstance(params.get("size"), int | float):
            sizes.add(int(params["size"]))
    return {"real": real, "sizes": sorted(sizes)}


def _curves(
    in_domain: pd.DataFrame,
    per_case: pd.Series,
    unit: list[str],
    n_resamples: int,
    seed: int,
    n_bins: int = 8,
) -> pd.DataFrame:
    """Measured curves: cases binned by quantiles of the measure; per bin and model, mean Dice + CI."""
    values = per_case.to_numpy()
    n = min(n_bins, max(len(values) // 5, 1))  # about five cases per bin at least
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n + 1)))
    which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))
    bins = per_case.rename("x").to_frame().assign(bin=which)
    cases = in_domain.groupby(["model", *unit], dropna=False)["dice"].mean().rename("dice").reset_index()
    cases = cases.merge(bins.reset_index(), on=unit, how="inner")
    rng = derive_rng(seed, "advise-curves")
    rows = []
    for (model, b), g in cases.groupby(["model", "bin"], sort=True):
        est, low, high = _boot(g["dice"].to_numpy(), n_resamples, rng)
        rows.append(
            {
                "model": model,
                "bin": b,
                "x": float(g["x"].mean()),
                "dice": est,
                "low": low,
                "high": high,
                "n": len(g),
            }
        )
    return pd.DataFrame(rows, columns=["model", "bin", "x", "dice", "low", "high", "n"])


def _evidence(rows: pd.DataFrame, unit: list[str], n_resamples: int, seed: int) -> list[ModelEvidence]:
    """Per model: seed-averaged case Dice in-domain and under shift, with CIs; paired gaps to the best."""
    ident = rows[rows["perturbation"] == IN_DOMAIN]
    shifted = rows[rows["perturbation"] != IN_DOMAIN]
    wide = ident.groupby(["model", *unit], dropna=False)["dice"].mean().unstack("model")
    # the case is the unit: under shift, each case's Dice is averaged over seeds and shifted conditions
    wide_shift = shifted.groupby(["model", *unit], dropna=False)["dice"].mean().unstack("model")
    rng = derive_rng(seed, "advise")
    out = []
    for model in wide.columns:
        v = wide[model].dropna().to_numpy()
        est, low, high = _boot(v, n_resamples, rng)
        ev = ModelEvidence(
            str(model), len(v), int(ident.loc[ident["model"] == model, "seed"].nunique()), est, low, high
        )
        if model in wide_shift.columns:
            ev.shifted, ev.shifted_low, ev.shifted_high = _boot(
                wide_shift[model].dropna().to_numpy(), n_resamples, rng
            )
        out.append(ev)
    out.sort(key=lambda m: -m.dice if not math.isnan(m.dice) else math.inf)
    if out:
        best = out[0].model
        for ev in out[1:]:
            pair = wide[[best, ev.model]].dropna()
            ev.gap, ev.gap_low, ev.gap_high = _boot(
                (pair[best] - pair[ev.model]).to_numpy(), n_resamples, rng
            )
        out[0].gap = out[0].gap_low = out[0].gap_high = math.nan  # the reference: shown as "–"
    robust = [ev for ev in out if not math.isnan(ev.shifted)]
    if robust:
        top = max(robust, key=lambda m: m.shifted).model
        for ev in robust:
            if ev.model != top:
                pair = wide_shift[[top, ev.model]].dropna()
                diff = (pair[top] - pair[ev.model]).to_numpy()
                ev.shift_gap, ev.shift_gap_low, ev.shift_gap_high = _boot(diff, n_resamples, rng)
    return out


def _judge(advice: Advice) -> None:
    """Favoured models and strength from the paired gaps (CI lower bound > 0 = the best is ahead)."""
    models = [m for m in advice.models if not math.isnan(m.dice)]
    if len(models) < 2:
        advice.favoured = [m.model for m in models]
        advice.strength = "single model (nothing to compare)"
        return
    best, rest = models[0], models[1:]
    ahead = [m for m in rest if m.gap_low > 0]
    tied = [m for m in rest if not m.gap_low > 0]
    if not ahead:
        advice.favoured, advice.strength = [], "none"
    else:
        advice.favoured = [best.model, *[m.model for m in tied]]
        advice.strength = "strong" if not tied else "moderate"
        if tied:
            advice.cannot_say.append(
                f"{', '.join(m.model for m in tied)} cannot be told apart from {best.model} here "
                "(paired CI of the difference includes 0)."
            )
    robust = [m for m in models if not math.isnan(m.shifted)]
    if len(robust) > 1:
        top = max(robust, key=lambda m: m.shifted)
        behind = [m for m in robust if m is not top and m.shift_gap_low > 0]
        if behind:
            advice.robust_favoured = [m.model for m in robust if m is top or not m.shift_gap_low > 0]
        else:
            advice.cannot_say.append(
                "Under shift no model is ahead of another (every paired CI includes 0): "
                "no robustness ranking is supported."
            )


def _limits(profile: DatasetProfile, advice: Advice, per_case: pd.Series) -> list[str]:
    lo, hi = advice.measured_range
    out = []
    outside = float(np.mean((profile.values < lo) | (profile.values > hi)))
    if outside > 0:
        out.append(
            f"{outside:.0%} of the dataset's cases lie outside the measured range; "
            "nothing is said about them."
        )
    out.append(
        f"The measured curves come from {', '.join(advice.sources) or 'no suite'}; the {profile.measure} "
        "measure captures one aspect of difficulty (texture separability / object size), not modality, "
        "noise or annotation style."
    )
    out.append("A recommendation is not a guarantee: train and validate on your own data before choosing.")
    return out


def _usable(cases: pd.DataFrame, x: str) -> pd.DataFrame:
    needed = {"model", "dataset", "case_id", "dice", "perturbation", x}
    if cases.empty or not needed <= set(cases.columns):
        return pd.DataFrame(columns=[*sorted(needed), "suite", "complexity", "seed", "severity"])
    out = cases.copy()
    if "suite" not in out.columns:
        out["suite"] = ""
    if "test_complexity" in out.columns:  # cross-complexity rows test another level: left out
        out = out[pd.to_numeric(out["test_complexity"], errors="coerce").isna()]
    for col in ("dice", x, "complexity"):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    return out.dropna(subset=[x])


def _dims_of(dataset: str) -> int | None:
    """Spatial dims a registered dataset declares (``dims=`` meta); None when unknown (then kept).

    Why: 2D texture cases also store an FBR, so a 3D dataset must not be placed on 2D results.
    """
    from segbench.registry import DATASETS

    try:
        dims = DATASETS.get(dataset).meta.get("dims")
    except LookupError:
        return None
    return int(dims) if dims is not None else None


def _boot(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """Mean and percentile bootstrap CI (NaNs dropped; NaN interval below 2 values)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    if v.size < 2:
        return float(v.mean()), math.nan, math.nan
    means = v[rng.integers(0, v.size, (n_resamples, v.size))].mean(axis=1)
    return float(v.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _side(measure: str, value: float, lo: float, hi: float) -> str:
    if measure == "complexity_kl":
        return "harder than anything measured" if value < lo else "easier than anything measured"
    return (
        "smaller foreground than anything measured"
        if value < lo
        else "larger foreground than anything measured"
    )


def _ci(est: float, low: float, high: float) -> str:
    if math.isnan(est):
        return "–"
    return f"{est:.3f}" if math.isnan(low) else f"{est:.3f} [{low:.3f}, {high:.3f}]"


_NEAR = {"close": "close to", "moderate": "at a moderate distance from", "far": "far from"}


def to_json(advice: Advice) -> str:
    """Machine-readable advice (beside the HTML)."""
    return json.dumps(
        {
            "dataset": advice.profile.name,
            "measure": advice.profile.measure,
            "median": advice.profile.median,
            "measured_range": advice.measured_range,
            "inside": advice.inside,
            "favoured": advice.favoured,
            "strength": advice.strength,
            "distance": advice.distance,
            "distance_notes": advice.distance_notes,
            "evidence_real": advice.evidence_real,
            "robust_favoured": advice.robust_favoured,
            "models": [vars(m) for m in advice.models],
            "cannot_say": advice.cannot_say,
        },
        indent=2,
        default=float,
    )
