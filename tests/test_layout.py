"""The layout the README promises: `recorder` never imports `augment` (only the CLI joins them), no
`print` in library code, the README's layout map names every package and module there is, and the README and
docs/ show only flags their commands have."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "recorder", "augment")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def library_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", library_files("recorder"), ids=lambda p: str(p.relative_to(ROOT)))
def test_recorder_never_imports_augment(path):
    augment = {m for m in imported_modules(path) if m == "augment" or m.startswith("augment.")}
    allowed = path == ROOT / "recorder" / "cli.py"
    assert allowed or not augment, f"{path.relative_to(ROOT)} imports {sorted(augment)}"


@pytest.mark.parametrize("path", library_files("envs"), ids=lambda p: str(p.relative_to(ROOT)))
def test_envs_imports_neither_recorder_nor_augment(path):
    above = {m for m in imported_modules(path) if m.split(".")[0] in ("recorder", "augment")}
    assert not above, f"{path.relative_to(ROOT)} imports {sorted(above)}"


@pytest.mark.parametrize("path", [p for pkg in PACKAGES for p in library_files(pkg)
                                  if p != ROOT / "recorder" / "cli.py"], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_print_in_library_code(path):
    calls = [node.lineno for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"]
    assert not calls, f"{path.relative_to(ROOT)} calls print() at lines {calls}; return values or log"


def readme_layout() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"## Layout\n.*?```\n(.*?)```", text, re.S)
    assert match, "the README has no ## Layout section with a code block"
    return match.group(1)


def test_readme_layout_map_names_every_module_and_only_real_ones():
    layout = readme_layout()
    named = set(re.findall(r"[\w/-]+\.py|[\w-]+/", layout))
    modules = {str(p.relative_to(ROOT)) for pkg in PACKAGES for p in library_files(pkg)
               if p.name != "__init__.py"}
    missing = sorted(m for m in modules if Path(m).name not in layout)
    assert not missing, f"the README's layout map does not name {missing}"
    tops = [ROOT / top for top in (*PACKAGES, "configs", "tests", "scripts", "docs", "datasets")]
    tree = [*ROOT.iterdir(), *tops, *(p for top in tops for p in top.rglob("*"))]
    names = {p.name for p in tree if p.is_dir()}, {p.name for p in tree if p.is_file()}
    for name in sorted(named):
        is_folder = name.endswith("/")
        assert Path(name).name in names[0 if is_folder else 1], f"the layout map names {name}, which is not here"


def test_pyproject_packages_are_the_code_packages_of_the_tree():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    tree = {".".join(p.parent.relative_to(ROOT).parts) for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")}
    assert listed - {"mimicrec_configs"} == tree, "pyproject.toml's packages and the tree's packages differ"


def documented_commands() -> list[tuple[str, str, str]]:
    """(where, command, flag) for every ``--flag`` after ``mimicrec COMMAND`` on one line of the README or docs/."""
    pattern = re.compile(r"mimicrec (record|annotate|generate|train|eval|replay|info|convert|tasks)\b([^`|\n]*)")
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in pattern.finditer(line):
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", match.group(2)):
                    found.append((f"{path.relative_to(ROOT)}:{number}", match.group(1), flag))
    return found


def test_every_flag_the_docs_show_is_one_the_command_has():
    from recorder.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    shown = documented_commands()
    assert len(shown) > 100  # the guides show the commands with their flags
    unknown = [f"{where}: mimicrec {command} {flag}" for where, command, flag in shown
               if flag not in {f for action in commands[command]._actions for f in action.option_strings}]
    assert not unknown, f"the docs show flags their command does not have: {unknown}"
