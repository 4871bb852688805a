"""Registry lookups of a suite's own ``module:callable``: found and checked, never executed.

Each user module here writes a marker file when it is imported, so "not executed" is observed,
not assumed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from segbench.plan import expand
from segbench.registry import DATASETS, MODELS, PERTURBATIONS, RegistryError
from segbench.suite.errors import SuiteError
from segbench.suite.load import parse_suite

MODULE = '''\
"""A user model module with a side effect at import."""
import pathlib
pathlib.Path({marker!r}).write_text("imported")


def build(spatial_dims, out_channels, width: int = 3, depth=(1, 2), act=print):
    """A tiny user model."""
    import torch
    return torch.nn.Conv2d(1, out_channels, width, padding=width // 2)


class Net:
    """A class factory."""

    def __init__(self, spatial_dims, *, hidden: float = 0.5):
        pass
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``usernets`` (module) and ``userpkg.nets`` (package whose ``__init__`` has a side effect)."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "usernets.py").write_text(MODULE.format(marker=str(marker)))
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('init')\n")
    (pkg / "nets.py").write_text(MODULE.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    for name in ("usernets", "userpkg", "userpkg.nets"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("reference", ["usernets:build", "userpkg.nets:build"])
def test_lookup_reads_signature_and_doc_without_importing(user_module: Path, reference: str) -> None:
    entry = MODELS.get(reference)
    assert entry.is_user_code and entry.summary == "A tiny user model."
    params = entry.parameters()
    assert list(params) == ["spatial_dims", "out_channels", "width", "depth", "act"]
    assert params["width"].default == 3 and params["depth"].default == (1, 2)
    assert str(params["act"].default) == "print"  # not a literal: kept as source text
    assert not user_module.exists(), "looking up a reference imported it"
    assert reference.split(":")[0] not in sys.modules


def test_class_factory_signature_drops_self(user_module: Path) -> None:
    params = MODELS.get("usernets:Net").parameters()
    assert list(params) == ["spatial_dims", "hidden"] and params["hidden"].default == 0.5
    assert not user_module.exists()


def test_calling_the_factory_imports_it(user_module: Path) -> None:
    from segbench.models.build import build_model

    model = build_model("usernets:build", {"width": 5}, spatial_dims=2, out_channels=1)
    assert type(model).__name__ == "Conv2d" and user_module.read_text() == "imported"


@pytest.mark.parametrize(
    "reference",
    ["os:system", "subprocess:run", "builtins:exec", "shutil:rmtree", "os.path:join", "pickle:loads"],
)
@pytest.mark.parametrize("registry", [MODELS, DATASETS, PERTURBATIONS], ids=lambda r: r.kind)
def test_standard_library_callables_are_refused(registry, reference: str) -> None:
    with pytest.raises(RegistryError, match=r"refused.*standard library"):
        registry.get(reference)


def test_segbench_internals_are_refused_but_registered_factories_resolve() -> None:
    with pytest.raises(RegistryError, match="segbench internal"):
        MODELS.get("segbench.worker.shard:write_shard")
    with pytest.raises(RegistryError, match="segbench internal"):
        DATASETS.get("segbench.provenance:collect_provenance")
    assert MODELS.get("segbench.models.unet:build").factory is MODELS.get("unet").factory


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("no_such_module_xyz:build", "cannot import module 'no_such_module_xyz'"),
        ("usernets:missing", "defines no 'missing'"),
        ("usernets:", "package.module:callable"),
        ("user nets:build", "package.module:callable"),
        ("usernets.sub:build", "cannot import module"),
    ],
)
def test_bad_references_say_what_is_wrong(user_module: Path, reference: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        MODELS.get(reference)
    assert not user_module.exists()


def test_system_exit_at_import_is_a_registry_error(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "argparsey.py").write_text(
        "import argparse\nargparse.ArgumentParser().parse_args(['--nope'])\ndef build(): pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = MODELS.get("argparsey:build")
    with pytest.raises(RegistryError, match=r"SystemExit\(2\)"):
        entry.load()
    sys.modules.pop("argparsey", None)


SUITE = """\
name: u
models: [{{name: "{model}", params: {params}}}]
datasets: [{{name: textures2d, params: {{size: 32}}}}]
"""


def test_validate_checks_user_params_statically(user_module: Path) -> None:
    with pytest.raises(SuiteError, match=r"has no parameter 'widht'.*did you mean 'width'"):
        parse_suite(SUITE.format(model="userpkg.nets:build", params="{widht: 4}"))
    suite = parse_suite(SUITE.format(model="userpkg.nets:build", params="{width: 4}"))
    jobs = expand(suite)
    assert len(jobs) == 1
    assert not user_module.exists(), "validate or plan executed user code"


def test_job_key_is_the_same_before_and_after_the_module_is_imported(user_module: Path) -> None:
    suite = parse_suite(SUITE.format(model="usernets:build", params="{width: 4}"))
    before = expand(suite)[0].key
    MODELS.get("usernets:build").load()
    assert user_module.exists()
    assert expand(suite)[0].key == before


def test_validate_refuses_os_system(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = SUITE.format(model="os:system", params=f"{{command: 'touch {marker}'}}")
    with pytest.raises(SuiteError, match="standard library") as info:
        parse_suite(text, "evil.yaml")
    assert "evil.yaml:2" in str(info.value)
    assert not marker.exists()


def test_editable_install_found_through_meta_path_without_running_init(tmp_path: Path, monkeypatch) -> None:
    """pip's editable installs add a meta-path finder instead of a sys.path entry."""
    import importlib.util

    marker = tmp_path / "imported.txt"
    src = tmp_path / "src" / "editpkg"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('init')\n")
    (src / "nets.py").write_text(MODULE.format(marker=str(marker)))

    class EditableFinder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name != "editpkg":
                return None
            return importlib.util.spec_from_file_location(
                name, src / "__init__.py", submodule_search_locations=[str(src)]
            )

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, EditableFinder()])
    entry = MODELS.get("editpkg.nets:build")
    assert list(entry.parameters())[:3] == ["spatial_dims", "out_channels", "width"]
    assert not marker.exists() and "editpkg" not in sys.modules


def test_module_beside_the_suite_file_is_found_without_running_it(tmp_path: Path, monkeypatch) -> None:
    """The ``segbench`` script does not put the working directory on sys.path (``python -m`` does):
    a module beside the suite, or in the working directory, is found, still without importing it,
    and the folder is appended to sys.path (so it never shadows an installed package)."""
    import segbench.userref as userref
    from segbench.models.build import build_model
    from segbench.suite.load import load_suite

    monkeypatch.setattr(userref, "_USER_FOLDERS", [])
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    monkeypatch.chdir(tmp_path)  # the working directory holds nothing
    project = tmp_path / "project"
    project.mkdir()
    marker = tmp_path / "imported.txt"
    (project / "besidenets.py").write_text(MODULE.format(marker=str(marker)))
    suite = project / "s.yaml"
    suite.write_text(SUITE.format(model="besidenets:build", params="{width: 5}"))
    try:
        load_suite(suite)
        assert not marker.exists()  # found and checked, not imported
        assert sys.path[-1] == str(project.resolve())
        model = build_model("besidenets:build", {"width": 5}, spatial_dims=2, out_channels=1)
        assert marker.read_text() == "imported" and model.kernel_size == (5, 5)
    finally:
        sys.modules.pop("besidenets", None)
    missing = project / "t.yaml"
    missing.write_text(SUITE.format(model="nowhere_nets:build", params="{}"))
    with pytest.raises(SuiteError, match="not found on the Python path, beside the suite file or in the"):
        load_suite(missing)
