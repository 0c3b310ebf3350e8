"""derivations/ cannot rot: every `path.py::name` it cites exists, every cited function of nn/ and
algorithms/ cites its equation back, every test it names is a test, and every Markdown link resolves."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = sorted((ROOT / "derivations").glob("*.md"))
REFERENCE = re.compile(r"`([\w/.-]+\.py)::([\w.]+)`")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
EQUATION_TAG = re.compile(r"\\tag\{(\w+)\}")
SECTIONS = ["1.1-elbo.md", "1.2-wake-sleep.md", "1.3-aevb.md", "1.4-short-answers.md", "1.5-bound.md",
            "1.6-experiments.md", "1995.md", "backprop.md", "binary.md", "estimators.md", "exact-likelihood.md",
            "iwae.md", "likelihoods.md", "wake-sleep-diagnosis.md"]


def definitions(path):
    """{'name': node, 'Class.method': node} for the top-level functions, classes and methods of a file."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found[node.name] = node
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[f"{node.name}.{item.name}"] = item
    return found


def references():
    for document in DERIVATIONS:
        for match in REFERENCE.finditer(document.read_text()):
            yield document.name, match.group(1), match.group(2)


def test_every_section_is_there():
    assert [d.name for d in DERIVATIONS if d.name != "README.md"] == SECTIONS


@pytest.mark.parametrize("document,path,name", sorted(set(references())))
def test_reference_exists(document, path, name):
    source = ROOT / path
    assert source.is_file(), f"{document} cites {path}, which does not exist"
    found = definitions(source)
    assert name in found, f"{document} cites {path}::{name}, which {path} does not define"
    node = found[name]
    if path.startswith("tests/"):
        assert name.startswith("test_") and isinstance(node, ast.FunctionDef), f"{name} is not a test"
    elif isinstance(node, ast.FunctionDef) and path.startswith(("nn/", "algorithms/")):
        docstring = ast.get_docstring(node) or ""
        assert "Eq." in docstring, f"{path}::{name} is cited by {document} but its docstring cites no equation"


GUIDES = [ROOT / "README.md", ROOT / "configs" / "README.md", ROOT / "experiments" / "README.md",
          ROOT / "bench" / "README.md"]


@pytest.mark.parametrize("document", DERIVATIONS + GUIDES, ids=lambda d: str(d.relative_to(ROOT)))
def test_links_resolve(document):
    for target in LINK.findall(document.read_text()):
        if not target.startswith("http"):
            assert (document.parent / target).exists(), f"{document.name} links to {target}, which does not exist"


@pytest.mark.parametrize("document", DERIVATIONS, ids=lambda d: d.name)
def test_every_reference_to_code_is_a_link_to_its_file(document):
    """`path.py::name` in running text is written [`path.py::name`](../path.py), so that a reader gets there in one
    click (code blocks, indented by four spaces, are left as they are)."""
    prose = "\n".join(line for line in document.read_text().splitlines() if not line.startswith("    "))
    for match in REFERENCE.finditer(prose):
        linked = prose[match.start() - 1:match.end() + 1] == f"[{match.group(0)}]"
        target = prose[match.end() + 1:].split(")", 1)[0]
        assert linked and target == f"(../{match.group(1)}", f"{document.name}: {match.group(0)} is not a link to its file"


@pytest.mark.parametrize("document", [d for d in DERIVATIONS if d.name != "README.md"], ids=lambda d: d.name)
def test_each_section_ties_code_to_tests_and_corrects_the_write_up(document):
    text = document.read_text()
    cited = [path for path, _ in REFERENCE.findall(text)]
    assert any(path.startswith("tests/") for path in cited), f"{document.name} names no test"
    assert any(not path.startswith("tests/") for path in cited), f"{document.name} names no code"
    if document.name != "backprop.md":
        assert "## Corrections to the write-up" in text


def test_equation_tags_are_unique():
    tags = [tag for document in DERIVATIONS for tag in EQUATION_TAG.findall(document.read_text())]
    assert len(tags) == len(set(tags)), sorted(t for t in tags if tags.count(t) > 1)


def test_every_cited_equation_tag_in_the_code_is_defined():
    """An 'Eq. (A5)' in a docstring must be a \\tag{A5} in derivations/ (or one of the write-up's (1)-(11))."""
    tags = {tag for document in DERIVATIONS for tag in EQUATION_TAG.findall(document.read_text())}
    tags |= {str(n) for n in range(1, 12)}
    for folder in ("nn", "algorithms"):
        for source in (ROOT / folder).rglob("*.py"):
            for cited in re.findall(r"Eqs?\. \(([^)]+)\)", source.read_text()):
                for tag in re.split(r"\)?[-,–] ?\(?", cited):
                    assert tag in tags, f"{source.name} cites Eq. ({tag}), which no derivation defines"
