"""The 3D section: Dice vs patch size (context), vs test-volume foreground ratio, and the FBR-shift split."""

from __future__ import annotations

from segbench.core import IN_DOMAIN
from segbench.report import analysis3d, figures
from segbench.report.sections import PageData, Section, _div, _t, _table
from segbench.stats.hierarchical import MIN_CASES

__all__ = ["section_3d"]


def section_3d(d: PageData) -> Section | None:
    """3D context and foreground ratio, only for suites with 3D patch data."""
    if not analysis3d.has_3d_data(d.cases, d.jobs):
        return None
    cases, jobs, s = d.cases, d.jobs, _t(d).settings
    sec = Section("analysis3d", "3D: context and foreground ratio")
    colour = figures.colours(cases["model"].astype(str).unique())
    pcis = analysis3d.patch_cis(cases, s.n_resamples, s.confidence, s.seed)
    in_dom_all = cases[(cases["perturbation"] == IN_DOMAIN) & cases["test_complexity"].isna()]
    n_vol = in_dom_all.groupby(["dataset", "model", "patch"])["case_id"].nunique().rename("_n_vol")
    pcis = pcis.merge(n_vol.reset_index(), on=["dataset", "model", "patch"], how="left")
    few = pcis["_n_vol"].fillna(0) < MIN_CASES  # independent volumes, not volume x seed rows
    if few.any():  # issue 9: a 3D run with 2 test volumes printed a "95% CI" with no warning
        pcis.loc[few, ["low", "high"]] = float("nan")
        sec.notes.append(
            f"Fewer than {MIN_CASES} test volumes behind some patch-size means (n too small): their "
            "intervals are not drawn, and nothing is inferred from those differences."
        )
    for i, ds in enumerate(sorted(pcis["dataset"].unique())):
        if pcis.loc[pcis["dataset"] == ds, "patch"].nunique() > 1:
            sec.plots.append(_div(figures.patch_curves(pcis, ds, colour), f"patch-{i}"))
        else:
            sec.notes.append(f"{ds}: a single patch size, so no Dice-vs-patch-size curve.")
    in_dom = cases[(cases["perturbation"] == IN_DOMAIN) & cases["test_complexity"].isna()]
    points = in_dom.assign(model=in_dom["model"].astype(str) + " [" + in_dom["patch"].astype(str) + "]")
    if points["fbr"].notna().any():
        pcol = figures.colours(points["model"].unique())
        for i, ds in enumerate(sorted(points["dataset"].unique())):
            sec.plots.append(_div(figures.fbr_scatter(points, ds, pcol), f"fbr-{i}"))
    else:
        sec.notes.append("No test-volume foreground ratios recorded: no FBR scatter.")
    split = analysis3d.fbr_split(cases, analysis3d.crop_fbr_ranges(jobs))
    if split.empty:
        sec.notes.append("No in-domain cases for the within/outside training-FBR split.")
        return sec
    split = split.assign(
        verdict=[
            f"{r.drop:+.3f} (p={r.p_value:.3g})" if r.status == "ok" else f"degenerate: {r.status}"
            for r in split.itertuples(index=False)
        ]
    )
    sec.notes.append(
        "Test volumes inside vs outside the training-crop FBR range (min..max over the configuration's "
        "training crops, pooled over seeds); drop = Dice inside - Dice outside, two-sided Mann–Whitney U."
    )
    sec.tables.append(
        _table(
            split,
            {
                "model": "model",
                "patch": "patch",
                "dataset": "dataset",
                "crop_fbr_min": "train FBR min",
                "crop_fbr_max": "train FBR max",
                "n_inside": "inside",
                "n_outside": "outside",
                "dice_inside": "Dice inside",
                "dice_outside": "Dice outside",
                "verdict": "drop (p)",
            },
            "fbr-split",
            digits=4,
        )
    )
    return sec
