"""The report reads a stored suite through the store's read model: its YAML is parsed once per page.

Why a test: the baseline model, description, shift order and names, direction overrides, ensembles and
reference used to be re-read from the YAML text by six modules, each with its own fallback; a new
section reaching for the text again would bring that back unnoticed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from segbench.report.build import render_suite
from segbench.report.tables import StatsSettings
from segbench.store.read import SuiteDefinition
from segbench.suite import yaml_safe

FAST = StatsSettings(n_resamples=199, rank_resamples=200, diff_resamples=200, vc_resamples=100)
SUITE = "name: t\ndescription: Two small models.\nbaseline_model: b\nperturbations: [none, harder]\n"


def _cases() -> pd.DataFrame:
    """Models a and b, 2 seeds, 12 cases, in-domain and under the ``harder`` preset (speckle s2)."""
    rng = np.random.default_rng(3)
    rows = []
    for model, base in (("a", 0.8), ("b", 0.7)):
        for seed in (1, 2):
            for pert, sev, off in (("none", 0, 0.0), ("speckle", 2, -0.2)):
                for i, noise in enumerate(rng.uniform(-0.05, 0.05, 12)):
                    rows.append(
                        {
                            "suite": "t",
                            "model": model,
                            "model_name": model,
                            "dataset": "textures2d",
                            "complexity": 0.5,
                            "patch": "full",
                            "perturbation": pert,
                            "severity": sev,
                            "preset": "harder" if sev else None,
                            "test_complexity": np.nan,
                            "seed": seed,
                            "case_id": f"c{i:02d}",
                            "dice": base + off + noise,
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Labels of every YAML text parsed by the bounded loader (``yaml_data`` goes through it)."""
    labels: list[str] = []
    real = yaml_safe.load_document

    def counting(text: str, filename: str, *args: Any, **kwargs: Any) -> Any:
        labels.append(filename)
        return real(text, filename, *args, **kwargs)

    monkeypatch.setattr(yaml_safe, "load_document", counting)
    return labels


def test_a_page_parses_the_stored_suite_once(tmp_path: Path, parses: list[str]) -> None:
    result = render_suite("t", _cases(), pd.DataFrame(), SUITE, 4, 4, tmp_path, settings=FAST)
    assert parses.count("stored suite") == 1
    page = result.index.read_text(encoding="utf-8")
    assert "Two small models." in page and "harder" in page  # description and shift name, from that parse
    # the store's read model arrives parsed: rendering it parses nothing again
    definition = SuiteDefinition.parse(SUITE, "t")
    parses.clear()
    render_suite("t", _cases(), pd.DataFrame(), definition, 4, 4, tmp_path / "again", settings=FAST)
    assert parses == []


def test_a_stored_suite_that_does_not_parse_still_renders_with_the_defaults(tmp_path: Path) -> None:
    broken = "name: [unclosed\nbaseline_model: b\n"
    result = render_suite("t", _cases(), pd.DataFrame(), broken, 4, 4, tmp_path, settings=FAST)
    page = result.index.read_text(encoding="utf-8")
    assert "name: [unclosed" in page  # the provenance section shows the text as stored
    same = render_suite("t", _cases(), pd.DataFrame(), "", 4, 4, tmp_path / "empty", settings=FAST)
    for name in (
        "cases.csv",
        "summary.csv",
        "tests.csv",
        "leaderboard.md",
    ):  # unparseable = no suite: the same numbers
        assert (tmp_path / "t" / name).read_bytes() == (same.index.parent / name).read_bytes(), name
