"""The one "package.module:name" loader of the registries: objects found, one-line errors otherwise."""

from __future__ import annotations

import pytest

from spatial_forcing.sim.registry import get_suite
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.loader import load_object


def test_loads_module_attributes():
    assert load_object("spatial_forcing.utils.loader:load_object") is load_object
    assert load_object("spatial_forcing.sim.suite:TaskSpec.__init__") is not None  # dotted names too


@pytest.mark.parametrize("spec,message", [
    ("no_colon", "expected package.module:name"),
    (":name", "expected package.module:name"),
    ("spatial_forcing.utils.loader:", "expected package.module:name"),
    ("spatial_forcing.nope:build", "no module 'spatial_forcing.nope'"),
    ("nopackage_xyz.mod:build", "no module 'nopackage_xyz'"),
    ("spatial_forcing.utils.loader:nope", "module 'spatial_forcing.utils.loader' has no 'nope'"),
])
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(SFError, match=message) as err:
        load_object(spec, "env")
    assert str(err.value).startswith(f"env {spec!r}: ") and "\n" not in str(err.value)


def test_a_missing_dependency_of_a_real_module_is_its_own_error(tmp_path, monkeypatch):
    (tmp_path / "needs_missing_dep.py").write_text("import missing_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="missing_dependency_xyz"):
        load_object("needs_missing_dep:build")


def test_registries_use_it(tmp_path, monkeypatch):
    (tmp_path / "my_suite.py").write_text("from spatial_forcing.sim.tabletop.suite import TabletopSuite\n"
                                          "def make():\n    return TabletopSuite('train')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_suite("my_suite:make").tasks == get_suite("tabletop_train").tasks  # any suite consumer
    with pytest.raises(SFError, match="unknown env 'nope'.*or package.module:factory"):
        get_suite("nope")
    with pytest.raises(SFError, match="env 'my_suite:nope': module 'my_suite' has no 'nope'"):
        get_suite("my_suite:nope")
    with pytest.raises(SFError, match="unknown teacher 'nope'"):
        build_teacher("nope")
