"""The layout a learner relies on: imports go one way (nn <- algorithms <- experiments <- run.py, and inside
experiments errors <- data <- harness <- outputs <- studies), no module imports itself round a cycle, a function-level
import of a project module says why it is there, no module passes 300 lines, the homework's run imports the homework's
modules only, and --help offers the homework's flags first and no flag an algorithm does not use."""
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import algorithms
from run import make_parser

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["nn", "algorithms", "experiments.errors", "experiments.data", "experiments.harness", "experiments.outputs",
          "experiments.studies", "run"]
PACKAGES = ("nn", "algorithms", "experiments")
SOURCES = sorted([*(path for package in PACKAGES for path in ROOT.joinpath(package).rglob("*.py")), ROOT / "run.py"])
REGISTERED = re.compile(r"^((?:nn|algorithms|experiments)(?:\.\w+)+):\w+$")     # "module:attribute" in a registry


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module):
    """The index in LAYERS of the longest entry that module is or lies in (experiments itself: its errors' layer)."""
    if module == "experiments":
        return LAYERS.index("experiments.errors")
    return max(i for i, name in enumerate(LAYERS) if module == name or module.startswith(name + "."))


def is_module(name):
    return ROOT.joinpath(*name.split(".")).with_suffix(".py").is_file()


def project_imports(path):
    """(imported module, line, at module level?) for every import of a project module, and every module a registry
    names by string (counted as imported where it is named)."""
    tree, found = ast.parse(path.read_text()), []
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from package import module" imports the module (and the package's __init__ before it)
            names = [f"{node.module}.{alias.name}" if is_module(f"{node.module}.{alias.name}") else node.module
                     for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and REGISTERED.match(node.value):
            found.append((REGISTERED.match(node.value).group(1), node.lineno, None))
            continue
        else:
            continue
        found += [(name, node.lineno, id(node) in top_level) for name in names
                  if name.split(".")[0] in ("nn", "algorithms", "experiments", "run")]
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path):
    own = layer(module_name(path))
    for imported, line, _ in project_imports(path):
        assert layer(imported) <= own, f"{path.relative_to(ROOT)}:{line} imports {imported}, a later layer"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_function_level_import_of_the_project_says_why(path):
    lines = path.read_text().splitlines()
    for imported, line, top_level in project_imports(path):
        if top_level is False:
            assert "#" in lines[line - 1] + lines[line - 2], (f"{path.relative_to(ROOT)}:{line} imports {imported} "
                                                              "inside a function without a comment saying why")


def test_every_package_is_covered():
    """Every folder of the packages that holds Python is a package the tests above read (no folder escapes them)."""
    folders = {path.parent for path in SOURCES if path.name != "run.py"}
    assert all((folder / "__init__.py").is_file() for folder in folders), folders
    assert ROOT / "algorithms" / "binary" / "vimco.py" in SOURCES


def test_no_import_cycle():
    """No module reaches itself through imports, those inside functions included (a function-level import only
    delays a cycle)."""
    graph = {module_name(path): {name for name, _, _ in project_imports(path)} for path in SOURCES}
    done, visiting = set(), []

    def visit(module):
        assert module not in visiting, f"an import cycle: {' -> '.join(visiting[visiting.index(module):] + [module])}"
        if module in done or module not in graph:
            return
        visiting.append(module)
        for imported in graph[module]:
            visit(imported)
        visiting.pop()
        done.add(module)
    for module in graph:
        visit(module)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_is_under_300_lines(path):
    assert len(path.read_text().splitlines()) < 300


EXTENSIONS = ("algorithms.exact", "algorithms.posterior", "nn.heads", "nn.continuous_bernoulli", "nn.gradcheck",
              "experiments.data.binarize", "experiments.data.dequantize", "experiments.outputs.diagnostics",
              "experiments.outputs.exact_evaluation", "experiments.outputs.nll", "experiments.outputs.explorer",
              "experiments.outputs.binary_exact", "experiments.studies")


def test_the_homework_run_imports_the_homework_only(tmp_path):
    """python run.py aevb --quick --no-exact (on fewer images, which imports the same) imports the homework's modules
    and every algorithm's (the registry holds their classes, algorithms/__init__.py): the registered trainers' modules,
    and at most 30 others of the project's (29 before the binary model's fused evaluation), not counting the packages'
    __init__ files, and nothing of the extensions. The trainers' modules are counted apart, so that a new algorithm,
    one file and a line in TRAINERS, does not spend the homework's budget. Only the project's own modules are
    counted: those under its packages and run.py, wherever a virtual environment lies (.venv inside the clone
    included)."""
    script = ("import json, sys, run; code = run.main(['aevb', '--quick', '--no-exact', '--epochs', '1', "
              "'--train-size', '200', '--test-size', '50', '--eval-train-size', '20', '--out', sys.argv[1]]); "
              "print(json.dumps([code, [name for name, module in sys.modules.items() "
              "if (getattr(module, '__file__', None) or '').startswith(sys.argv[2])]]))")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "run"), str(ROOT) + "/"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    code, modules = json.loads(done.stdout.splitlines()[-1])
    packages = [name for name in modules if (ROOT / name.replace(".", "/") / "__init__.py").is_file()]
    modules = sorted(name for name in set(modules) - set(packages) - {"run"} if name.split(".")[0] in PACKAGES)
    assert code == 0
    trainers = {trainer.__module__ for trainer in algorithms.TRAINERS}
    assert trainers <= set(modules)
    assert len(set(modules) - trainers) <= 30, sorted(set(modules) - trainers)
    assert not [name for name in modules if name.startswith(EXTENSIONS)], modules


def groups(command):
    """{group title: [its flags]} of run.py COMMAND --help."""
    parser = make_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    sub = subparsers.choices[command]
    return {group.title: [(action.option_strings or [action.dest])[0] for action in group._group_actions]
            for group in sub._action_groups if group._group_actions}


@pytest.mark.parametrize("command, rates", [("aevb", ["--lr"]), ("wake-sleep", ["--wake-lr", "--sleep-lr"]),
                                            ("iwae", ["--lr"]), ("rws", ["--lr"]),
                                            ("compare", ["--lr", "--wake-lr", "--sleep-lr"])])
def test_help_offers_the_homework_flags_first(command, rates):
    titles = [title for title in groups(command) if title not in ("options", "positional arguments")]
    homework = groups(command)[titles[0]]
    assert titles[0].startswith("the homework's settings") and titles[1].startswith("beyond the homework")
    assert len(titles) == 2
    assert homework == ["--epochs", "--batch-size", "--latent-dim", "--hidden", "--seed", *rates, "--quick", "--out",
                        "--resume", "--force"]
    assert len(homework) <= 12


@pytest.mark.parametrize("command, foreign", [("aevb", ["--sleep-lr", "--k", "--dreams", "--phi-lr", "--dreg"]),
                                              ("wake-sleep", ["--lr", "--k", "--phi-lr", "--dreg", "--sleep-phi"]),
                                              ("iwae", ["--sleep-lr", "--dreams", "--sleep-samples", "--phi-lr"]),
                                              ("rws", ["--wake-lr", "--dreg"])])
def test_an_algorithm_is_not_offered_a_flag_it_does_not_use(command, foreign):
    offered = {flag for flags in groups(command).values() for flag in flags}
    assert not offered & set(foreign)
