"""The HTML report on a real store (``suites/ci.yaml``): leaderboard, exports, escaping, empty/partial."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from segbench.plan import expand
from segbench.report.build import build_reports, render_suite
from segbench.report.exports import leaderboard_tex
from segbench.store import Store
from segbench.suite.load import load_suite

pytestmark = pytest.mark.slow

CI_SUITE = Path(__file__).resolve().parents[2] / "suites" / "ci.yaml"

MODELS = {"unet", "noskip_unet", "attention_unet"}


@pytest.fixture(scope="module")
def built(ci_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    (result,) = build_reports(ci_results, out)
    assert result.suite == "ci" and not result.partial and result.expected == result.done == 18
    return out


def _board_rows(page: str, metric: str = "dice") -> list[list[str]]:
    """Visible cells of the first leaderboard, each row led by its block's complexity."""
    table = page.split('<table id="leaderboard-0"', 1)[1].split("</table>", 1)[0]
    out = []
    for cx, body in re.findall(
        rf'<tbody class="metric-body" data-metric="{metric}" data-complexity="([^"]*)"[^>]*>(.*?)</tbody>',
        table,
        flags=re.S,
    ):
        for r in re.findall(r'<tr class="board-row[^"]*"[^>]*>(.*?)</tr>', body, flags=re.S):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
            cells = [re.sub(r"<[^>]+>", " ", c.replace("<wbr>", "")) for c in cells]  # <wbr>: break points
            out.append([cx] + [" ".join(c.split()) for c in cells])
    return out


def test_leaderboard_has_one_ranked_row_per_model_and_complexity(built: Path) -> None:
    page = (built / "ci" / "index.html").read_text()
    rows = _board_rows(page)
    assert len(rows) == 6  # 3 models x 2 complexity levels, one block per level
    assert {(r[0], r[2]) for r in rows} == {(c, m) for c in ("0.2", "0.8") for m in MODELS}
    for cx in ("0.2", "0.8"):
        assert sorted(r[1].split()[0] for r in rows if r[0] == cx)[0] == "1"  # "1" or "1 (1–2)"
    # "mean [low, high]" with low <= mean <= high in the in-domain, per-shift and mean-OOD columns
    for r in rows:
        for cell in (r[3], r[4], r[5], r[6]):
            mean, low, high = map(float, re.match(r"([\d.]+) (?:† )?\[([\d.]+), ([\d.]+)\]", cell).groups())
            assert low <= mean <= high
        # worst OOD is the lower of the two shift columns here (one condition per shift)
        assert float(r[7].split()[0]) == min(float(r[4].split()[0]), float(r[5].split()[0]))
    header = page.split('<table id="leaderboard-0"', 1)[1].split("</thead>", 1)[0]
    assert re.findall(r"<th[^>]*>([^<]+)</th>", header.replace("<wbr>", ""))[2:6] == [
        "in-domain",
        "harder",  # the suite's preset names, defined in the legend below the table
        "easier",
        "mean OOD",
    ]
    assert "harder = speckle s2: " in page and "easier = blur_background s2: " in page
    unet_mce = [r[9] for r in rows if r[2] == "unet"]
    assert unet_mce == ["1.00", "1.00"]  # the CE baseline is 1 by definition
    assert all(int(r[10].split()[0].replace(",", "")) > 0 for r in rows)  # parameter counts (cost cell)
    hd95 = _board_rows(page, "hd95")
    assert len(hd95) == 6 and all(r[9] == "–" for r in hd95)  # mCE is Dice-only
    assert '<section id="headline">' in page and page.index("headline") < page.index('id="inference"')
    sections = (
        "inference",
        "complexity",
        "severity",
        "cd",
        "significance",
        "ranks",
        "variance",
        "distributions",
        "curves",
        "failures",
    )
    for section in (*sections, "methods"):
        assert f'<section id="{section}">' in page
    assert "Not shown: the suite has no cross-complexity evaluations" in page
    assert (
        "zero_method=&#39;wilcox&#39;" in page
        and "9,999 resamples" in page
        and "method=&#39;holm&#39;" in page
    )
    assert "partial-banner" not in page
    assert "name: ci" in page  # suite YAML in the provenance section
    index = (built / "index.html").read_text()
    assert 'href="ci/index.html"' in index


def test_exports_exist_and_parse(built: Path) -> None:
    folder = built / "ci"
    cases = pd.read_csv(folder / "cases.csv")
    for col in ("model", "dataset", "complexity", "perturbation", "severity", "seed", "case_id", "dice"):
        assert col in cases.columns
    assert set(cases["model"]) == MODELS and len(cases) == 3 * 2 * 3 * 12
    summary = pd.read_csv(folder / "summary.csv")
    assert len(summary) == 3 * 2 * 3 and (summary["ci_low"] <= summary["dice_mean"] + 1e-12).all()
    md = (folder / "leaderboard.md").read_text().splitlines()
    assert md[0].startswith("| Dataset") and sum(line.startswith("| textures2d") for line in md) == 6
    assert "| harder | easier | Mean OOD | Worst OOD | Drop |" in md[0] and "| Params |" in md[0]
    tex = (folder / "leaderboard.tex").read_text()
    assert "\\begin{tabular}" in tex and tex.count("\\\\") == 7  # header + 6 rows
    assert "noskip\\_unet" in tex
    tests = pd.read_csv(folder / "tests.csv")
    assert {"p_value", "p_holm", "zero_method"} <= set(tests.columns)
    assert (tests["zero_method"].dropna() == "wilcox").all()  # architecture-level rows: no Wilcoxon
    assert (folder / "plotly.min.js").stat().st_size > 1_000_000  # beside index.html: portable
    assert '<script src="plotly.min.js">' in (folder / "index.html").read_text()


def test_names_are_escaped(ci_results: Path, tmp_path: Path) -> None:
    store = Store(ci_results)
    evil = "<script>alert(1)</script>"
    cases = store.cases("ci").replace({"model": {"unet": evil}})
    result = render_suite(evil, cases, store.jobs("ci"), "name: x\n", 18, 18, tmp_path)
    page = result.index.read_text()
    assert evil not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert result.index.parent.parent == tmp_path  # folder name made filesystem-safe


def test_empty_store_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="segbench run"):
        build_reports(tmp_path / "nothing", tmp_path / "out")


def test_unknown_suite_lists_stored_ones(ci_results: Path, tmp_path: Path) -> None:
    with pytest.raises(LookupError, match=r"stored suites: \['ci'\]"):
        build_reports(ci_results, tmp_path, ["nope"])


def test_partial_suite_shows_banner_and_gallery(ci_results: Path, tmp_path: Path) -> None:
    # The user adds a test perturbation to the suite but has not rerun it: 6 evaluations missing.
    results = tmp_path / "results"
    shutil.copytree(ci_results, results, ignore=shutil.ignore_patterns("checkpoints", "shards"))
    text = CI_SUITE.read_text().replace("[none, harder, easier]", "[none, harder, easier, hardest]")
    suite_file = tmp_path / "ci.yaml"
    suite_file.write_text(text)
    Store(results).record_suite(
        "ci",
        text,
        str(suite_file),
        expand(load_suite(suite_file)),
        replace=True,  # an edited copy
    )
    out = tmp_path / "out"
    (out / "ci").mkdir(parents=True)
    _tiny_png(out / "ci" / "gallery.png")
    (result,) = build_reports(results, out)
    assert result.partial and (result.expected, result.done) == (24, 18)
    page = result.index.read_text()
    assert 'id="partial-banner"' in page and "6 of 24 evaluations are missing" in page
    assert '<section id="gallery">' in page and 'src="gallery.png"' in page
    assert "(partial)" in (out / "index.html").read_text()


def test_tex_escapes_special_characters() -> None:
    board = pd.DataFrame(
        [
            {
                "dataset": "d_1",
                "complexity": 0.5,
                "rank": 1,
                "model": "a&b%",
                "id_mean": 0.9,
                "id_low": 0.8,
                "id_high": 0.95,
                "ood_mean": float("nan"),
                "ood_low": float("nan"),
                "ood_high": float("nan"),
                "drop": float("nan"),
                "mce": float("nan"),
                "significantly_worse": True,
                "ood_significantly_worse": False,
            }
        ]
    )
    tex = leaderboard_tex(board)
    assert "a\\&b\\%" in tex and "d\\_1" in tex and "$^\\dag$" in tex


def _tiny_png(path: Path) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
