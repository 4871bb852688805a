"""The shipped reference files load and validate; bad references and bad names fail with one clear line."""

from __future__ import annotations

import pytest

from segbench.references import ReferenceError, load_reference, parse_reference, reference_names

GOOD = """
format: segbench-reference/1
name: tiny
version: 1
title: t
citation: c
tables:
  - id: syn
    source: s
    dataset: {name: textures2d}
    axis: complexity
    columns: [0.1, 0.9]
    rows: {unet: [0.9, 0.5], noskip_unet: [0.8, 0.6]}
findings:
  - id: f
    statement: s
    tests: [{a: noskip_unet, b: unet, table: syn, at: 0.9, expect: a_better}]
"""


def test_shipped_references_load_with_the_issue_numbers() -> None:
    assert reference_names() == ["context_fbr", "skip_connections"]
    skip = load_reference("skip_connections")
    syn = skip.table("synthetic_in_domain")
    assert syn.columns[-1] == 0.9 and syn.rows["attention_unet"][-1] == 0.727
    assert skip.table("spleen").rows["unet"] == [0.078, 0.746, 0.107]
    fbr = load_reference("context_fbr")
    assert fbr.table("synthetic_fbr_drop").rows["attention_unet"] == [0.837, 0.300, 0.256]
    assert fbr.table("synthetic").volume_side == 96
    for ref in (skip, fbr):
        assert ref.citation and ref.findings and ref.protocol_differences


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ReferenceError, match="unknown reference 'skip'; known references: context_fbr, skip_connections"
    ):
        load_reference("skip")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("rows: {unet: [0.9, 0.5]", "rows: {unet: [0.9]", "row 'unet' has 1 values for 2 columns"),
        ("table: syn, at: 0.9", "table: nope, at: 0.9", "unknown table 'nope'"),
        ("table: syn, at: 0.9", "table: syn, at: 0.5", "level 0.5 is not a column"),
        ("expect: a_better", "expect: equivalent", "'margin' is required"),
        ("format: segbench-reference/1", "format: segbench-reference/9", "format"),
        ("columns: [0.1, 0.9]", "columns: [none, harder]", "needs columns that are numbers"),
    ],
)
def test_bad_reference_names_the_field(old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(ReferenceError, match=r"tiny\.yaml: ") as err:
        parse_reference(GOOD.replace(old, new), "tiny.yaml")
    assert message in str(err.value)
    assert parse_reference(GOOD, "tiny.yaml").name == "tiny"


SUITE = "name: x\nmodels: [unet]\ndatasets:\n  - {name: textures2d, params: {size: 32}}\n"


def test_suite_reference_is_validated_with_the_known_names() -> None:
    from segbench.suite.errors import SuiteError
    from segbench.suite.load import parse_suite

    assert parse_suite(SUITE + "reference: skip_connections\n", "s.yaml").reference == "skip_connections"
    assert parse_suite(SUITE, "s.yaml").reference is None
    with pytest.raises(SuiteError) as err:
        parse_suite(SUITE + "reference: skip_conections\n", "s.yaml")
    message = str(err.value)
    assert "s.yaml:5" in message and "did you mean 'skip_connections'" in message
    assert "context_fbr, skip_connections" in message


def test_the_studies_suites_declare_their_references() -> None:
    from pathlib import Path

    import yaml

    from segbench.suite.load import load_suite

    suites = Path(__file__).resolve().parents[2] / "suites"
    expected = {
        "skip.yaml": "skip_connections",
        "skip_real.yaml": "skip_connections",
        "context_fbr.yaml": "context_fbr",
        "repro_skip_cpu.yaml": "skip_connections",
        "repro_fbr_cpu.yaml": "context_fbr",
    }
    for name, ref in expected.items():
        assert yaml.safe_load((suites / name).read_text(encoding="utf-8"))["reference"] == ref, name
        if name != "skip_real.yaml":  # needs the real data under SEGBENCH_DATA to validate
            assert load_suite(suites / name).reference == ref, name
