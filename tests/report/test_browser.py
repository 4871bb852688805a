"""The rendered report in a real headless Chromium: no console/page errors, every plot drawn.

Chromium is the Debian package (``apt-get install chromium``; ``.ci/run`` installs it); Playwright only
drives it through ``executable_path`` and never downloads a browser. Without Chromium the test is skipped
with the reason shown (``-ra``), except under ``CI=true`` where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from segbench.report.build import build_reports, render_suite
from segbench.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    for candidate in (os.environ.get("SEGBENCH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    reason = "no Chromium found (install the Debian package: apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true requires the browser test to run")
    pytest.skip(reason)


def _open(page_path: Path, screenshot: Path, act: Any = None, width: int = 1280) -> dict[str, object]:
    """Load ``page_path`` over file://, wait for plotly, return what the page shows.

    ``act(page)``, when given, runs after the plots are drawn; its return value is under ``"acted"``.
    """
    playwright = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    errors: list[str] = []
    dialogs: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(page_path.as_uri(), wait_until="load")
            n_plots = page.locator("div.plotly-graph-div").count()
            if n_plots:
                page.wait_for_function(
                    "n => document.querySelectorAll('div.plotly-graph-div .main-svg').length >= n",
                    arg=n_plots,
                    timeout=20_000,
                )
            unrendered = page.evaluate(
                "Array.from(document.querySelectorAll('div.plotly-graph-div'))"
                ".filter(d => !d.querySelector('.main-svg')).map(d => d.id)"
            )
            models = page.locator("#leaderboard-0 tbody[data-metric=dice] tr td.model").all_inner_texts()
            widths = page.evaluate(_WIDTHS)
            page.screenshot(path=str(screenshot), full_page=True)
            acted = act(page) if act else None
        finally:
            browser.close()
    return {
        "errors": errors,
        "dialogs": dialogs,
        "plots": n_plots,
        "unrendered": unrendered,
        "models": models,
        "widths": widths,
        "acted": acted,
    }


#: the page's and every leaderboard's scroll width against the space it has (no horizontal scrollbar)
_WIDTHS = (
    "() => ({page: [document.documentElement.scrollWidth, window.innerWidth],"
    " boards: Array.from(document.querySelectorAll('table.leaderboard'))"
    ".map(t => [t.id, t.scrollWidth, t.parentElement.clientWidth])})"
)


def test_wide_leaderboard_fits_1400_px_without_horizontal_scroll(ci_results: Path, tmp_path: Path) -> None:
    """Seven shift columns and long model names: every column visible at 1400 px, no scrollbar."""
    store = Store(ci_results)
    cases = store.cases("ci")
    shifted = cases[cases["perturbation"] == "speckle"]  # one condition, copied under five more names
    extra = ["gaussian_noise", "rician", "gibbs", "motion", "bias_field"]
    cases = pd.concat([cases, *(shifted.assign(perturbation=p, severity=3) for p in extra)])
    cases["model"] = cases["model"].replace({"unet": "unet_wide_variant"})
    suite_yaml = (
        "name: wide\nperturbations: [none, harder, easier, "
        + ", ".join(f"{{name: {p}, severity: 3}}" for p in extra)
        + "]\n"
    )
    out = tmp_path / "reports"
    build_reports(ci_results, out)  # plotly.min.js beside the pages
    result = render_suite("wide", cases, store.jobs("ci"), suite_yaml, 18, 18, out)
    seen = _open(result.index, tmp_path / "wide.png", width=1400)
    assert seen["errors"] == []
    doc, inner = seen["widths"]["page"]
    assert doc <= inner, f"page scrolls horizontally at 1400 px: {doc} > {inner}"
    boards = seen["widths"]["boards"]
    assert boards and all(w <= room for _, w, room in boards), boards
    headers = result.index.read_text(encoding="utf-8")
    headers = headers.replace("<wbr>", "")  # break points inside long names
    assert all(f">{p}</th>" in headers for p in extra) and ">harder</th>" in headers  # the suite's names


def test_report_renders_in_chromium(ci_results: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    (result,) = build_reports(ci_results, out)
    shot = tmp_path / "ci-report.png"
    seen = _open(result.index, shot)
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert seen["plots"] >= 10 and seen["unrendered"] == []
    assert sorted(seen["models"]) == sorted(["unet", "noskip_unet", "attention_unet"] * 2)
    assert shot.stat().st_size > 50_000
    index = _open(out / "index.html", tmp_path / "index.png")
    assert index["errors"] == [] and index["plots"] == 0


def test_script_names_do_not_run(ci_results: Path, tmp_path: Path) -> None:
    store = Store(ci_results)
    evil = "<script>alert(1)</script>"
    cases = store.cases("ci").replace({"model": {"unet": evil}})
    out = tmp_path / "reports"
    build_reports(ci_results, out)  # writes plotly.min.js beside the pages
    result = render_suite(evil, cases, store.jobs("ci"), "name: x\n", 18, 18, out)
    seen = _open(result.index, tmp_path / "evil.png")
    assert seen["dialogs"] == [] and seen["errors"] == [] and seen["unrendered"] == []
    assert evil in seen["models"]  # shown as text


_VISIBLE_COLUMN = (
    "col => Array.from(document.querySelectorAll('#leaderboard-0 tbody:not([hidden]) tr.board-row'))"
    ".map(r => r.cells[col].textContent.trim())"
)
_BLOCKS = (
    "col => Array.from(document.querySelectorAll('#leaderboard-0 tbody:not([hidden])'))"
    ".map(b => Array.from(b.querySelectorAll('tr.board-row')).map(r => r.cells[col].textContent.trim()))"
)


def _rows(page: Any) -> list[tuple[str, str]]:
    """The visible rows as (complexity block, model): a row's identity, whatever the sort."""
    blocks = page.evaluate(
        "() => Array.from(document.querySelectorAll('#leaderboard-0 tbody:not([hidden]) tr.board-row'))"
        ".map(r => r.closest('tbody').dataset.complexity)"
    )
    return list(zip(blocks, page.evaluate(_VISIBLE_COLUMN, 1), strict=True))


def _sort_and_switch(page: Any) -> dict[str, Any]:
    """Click the in-domain header twice, then switch the metric to HD95; what the table shows."""
    seen: dict[str, Any] = {"before": page.evaluate(_VISIBLE_COLUMN, 1)}
    header = page.locator("#leaderboard-0 thead th", has_text="in-domain")
    header.click()
    seen["asc"] = page.evaluate(_BLOCKS, 2)
    seen["asc_models"] = _rows(page)
    header.click()
    seen["desc"] = page.evaluate(_BLOCKS, 2)
    seen["desc_models"] = _rows(page)
    seen["dice_id"] = sorted(page.evaluate(_VISIBLE_COLUMN, 2))
    page.select_option("#metric-switch", "hd95")
    seen["hd95_id"] = sorted(page.evaluate(_VISIBLE_COLUMN, 2))
    seen["headline"] = page.locator("#headline").inner_text()
    seen["best_02"] = page.evaluate(
        "Array.from(document.querySelectorAll("
        "'#leaderboard-0 tbody[data-metric=dice][data-complexity=\"0.2\"] tr.board-row'))"
        ".filter(r => /^1( |$)/.test(r.cells[0].textContent.trim()))"  # rank 1, with or without its interval
        ".map(r => r.cells[1].textContent.trim())"
    )
    return seen


def _mean(cell: str) -> float:
    return float(cell.split()[0].split("[")[0])


def test_leaderboard_sorts_switches_metric_and_headline_names_the_best(
    ci_results: Path, tmp_path: Path
) -> None:
    (result,) = build_reports(ci_results, tmp_path / "reports")
    seen = _open(result.index, tmp_path / "sorted.png", _sort_and_switch)
    assert seen["errors"] == []
    acted = seen["acted"]
    assert len(acted["asc"]) == 2 and all(len(b) == 3 for b in acted["asc"])  # one block per complexity
    for block_asc, block_desc in zip(acted["asc"], acted["desc"], strict=True):  # sorted within each block
        asc = [_mean(c) for c in block_asc]
        assert asc == sorted(asc)
        desc = [_mean(c) for c in block_desc]
        assert desc == sorted(desc, reverse=True)
    assert [b for b, _ in acted["asc_models"]] == ["0.2"] * 3 + ["0.8"] * 3  # rows never leave their block
    flat = [_mean(c) for b in acted["asc"] for c in b]
    if len(set(flat)) == len(flat):  # no ties: the second click reverses each block's rows
        desc_models = acted["desc_models"]
        assert desc_models[:3] == acted["asc_models"][:3][::-1] and desc_models != acted["asc_models"]
    assert acted["hd95_id"] != acted["dice_id"]  # the metric switch changed the values shown
    assert all(_mean(c) > 1 for c in acted["hd95_id"])  # HD95 in mm, Dice in [0, 1]
    (best,) = acted["best_02"]
    assert f"Most accurate in-domain: {best} (Dice" in acted["headline"].split("complexity 0.8")[0]


def test_copied_folder_and_self_contained_file_render_alone(ci_results: Path, tmp_path: Path) -> None:
    (result,) = build_reports(ci_results, tmp_path / "reports", self_contained=True)
    copied = tmp_path / "elsewhere" / "deep" / "ci-copy"
    shutil.copytree(result.index.parent, copied)  # without the reports folder above it
    seen = _open(copied / "index.html", tmp_path / "copied.png")
    assert seen["errors"] == [] and seen["plots"] >= 10 and seen["unrendered"] == []
    alone = tmp_path / "mail" / "ci.html"
    alone.parent.mkdir()
    shutil.copy(result.standalone, alone)  # the one file, nothing beside it
    assert sorted(p.name for p in alone.parent.iterdir()) == ["ci.html"]
    seen = _open(alone, tmp_path / "alone.png")
    assert seen["errors"] == [] and seen["plots"] >= 10 and seen["unrendered"] == []
    assert "plotly.min.js" not in alone.read_text(encoding="utf-8")[:5000]  # script inlined, not linked
