"""Every public function and method on the API reference page documents its parameters.

The page (docs/reference/api.md) lists the modules mkdocstrings renders; this test reads the
same modules the same way (griffe, statically, numpy-style docstrings as configured in
mkdocs.yml) and keeps the members the page shows: public names, the ``members:`` list where
the page gives one, imported names only when the module exports them. A function or method
whose signature has a parameter (other than ``self``/``cls``) missing from the ``Parameters``
section of its docstring is reported; for a class with its own ``__init__`` the class
docstring (or the ``__init__``'s) must document the constructor's parameters. Dataclass fields
are attributes and are not checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import griffe

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "api.md"
DIRECTIVE = re.compile(r"^::: (?P<path>[\w.]+)\s*$")
MEMBERS = re.compile(r"^\s+members:\s*\[(?P<names>[^\]]*)\]\s*$")


def _config_style() -> str:
    # mkdocs.yml uses !!python/name tags in places; read only the handler's options.
    text = (ROOT / "mkdocs.yml").read_text()
    found = re.search(r"docstring_style:\s*(\w+)", text)
    assert found, "mkdocs.yml sets no docstring_style for mkdocstrings"
    return found.group(1)


def page_entries() -> list[tuple[str, list[str] | None]]:
    """``(dotted path, members or None)`` for each ``:::`` directive on the API page."""
    entries: list[tuple[str, list[str] | None]] = []
    for line in PAGE.read_text().splitlines():
        directive = DIRECTIVE.match(line)
        if directive:
            entries.append((directive.group("path"), None))
            continue
        members = MEMBERS.match(line)
        if members and entries:
            names = [n.strip() for n in members.group("names").split(",") if n.strip()]
            entries[-1] = (entries[-1][0], names)
    return entries


def _shown(obj: griffe.Object | griffe.Alias, members: list[str] | None) -> list:
    """The members mkdocstrings renders for ``obj`` (filters ``!^_``, explicit list, exports)."""
    kept = []
    for name, member in obj.members.items():
        if members is not None:
            if name in members:
                kept.append(member)
            continue
        if name.startswith("_"):
            continue
        if member.is_alias:
            if not member.is_public:  # imported and not re-exported: not rendered
                continue
            try:
                member = member.final_target
            except griffe.AliasResolutionError:  # a third-party object re-exported
                continue
        if not member.is_module:
            kept.append(member)
    return kept


def _documented(docstring: griffe.Docstring | None, style: str) -> set[str]:
    if docstring is None:
        return set()
    names: set[str] = set()
    for section in docstring.parse(style):
        if section.kind is griffe.DocstringSectionKind.parameters:
            names.update(param.name.lstrip("*") for param in section.value)
    return names


def _missing(function: griffe.Function, docstring: griffe.Docstring | None, style: str) -> list[str]:
    wanted = [p.name for p in function.parameters if p.name not in ("self", "cls")]
    documented = _documented(docstring, style)
    return [name for name in wanted if name not in documented]


def undocumented() -> list[str]:
    """``module.object: missing parameters`` for every shown callable that leaves some out."""
    style = _config_style()
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)], docstring_parser=style)
    problems: list[str] = []
    for top in dict.fromkeys(path.split(".")[0] for path, _ in page_entries()):
        loader.load(top)  # once per package: each load parses the whole tree again
    for path, members in page_entries():
        obj = loader.modules_collection.get_member(path)
        stack = _shown(obj, members)
        while stack:
            target = stack.pop()
            if target.is_function:
                gaps = _missing(target, target.docstring, style)
                if gaps:
                    problems.append(f"{target.path}: {', '.join(gaps)}")
            elif target.is_class:
                init = target.members.get("__init__")
                # A dataclass's generated __init__ takes its fields (attributes, not checked here).
                if init is not None and not init.is_alias and init.is_function and init.lineno:
                    documented = _documented(target.docstring, style) | _documented(
                        init.docstring, style)
                    gaps = [p.name for p in init.parameters
                            if p.name not in ("self", "cls") and p.name.lstrip("*") not in documented]
                    if gaps:
                        problems.append(f"{target.path}(): {', '.join(gaps)}")
                stack.extend(_shown(target, None))
    return sorted(set(problems))


def test_the_page_lists_modules():
    entries = page_entries()
    assert len(entries) > 10, entries


def test_mkdocstrings_is_configured_for_numpy_style():
    assert _config_style() == "numpy"


def test_public_callables_document_every_parameter():
    problems = undocumented()
    assert not problems, "parameters missing from a Parameters section:\n" + "\n".join(problems)


def test_the_check_catches_a_missing_parameter(tmp_path):
    """The check itself can fail: a function documenting one of its two parameters."""
    package = tmp_path / "docpkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        'def f(a, b):\n    """Sum.\n\n    Parameters\n    ----------\n    a\n        first.\n    """\n')
    loader = griffe.GriffeLoader(search_paths=[str(tmp_path)], docstring_parser="numpy")
    module = loader.load("docpkg")
    function = module.members["f"]
    assert _missing(function, function.docstring, "numpy") == ["b"]
