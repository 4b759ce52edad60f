"""The grader's reading of a submission before it runs: what student cells must not do.

Two kinds of finding, both from the source alone (``ast``), for every cell the
student wrote (answer cells and cells they added):

- **reference**: the answer uses the course library's own implementation
  (``nnlib.Linear`` for ``linear_forward``, ``nnlib.Adam`` for ``adam_step``) or
  torch, the tests' oracle, where the reference answer of that cell is numpy.
  The rule is the reference answer itself: an answer may use what its reference
  uses from nnlib (``nnlib.fit`` in a training cell) and torch only where the
  reference uses torch. nnlib's data, plot and grading helpers are always allowed.
- **tamper**: the cell changes what the tests rely on or reaches outside the
  notebook: assigning to a library's attributes (``np.allclose = ...``),
  ``setattr`` on a module, redefining a name a read-only cell set (a grading
  helper, the test data), IPython's shell, ``sys``' hooks, ``builtins``,
  frames (``inspect``, ``sys._getframe``), ``gc``, ``ctypes``, processes and
  signals, ending the kernel (``os._exit``, ``exit()``), code built at run time
  (``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``), and paths to
  the solutions or the gradebook.

Each finding names the cell, the line and what was found, in words a student
can act on. The preprocessor (preprocessors.GuardedExecute) turns findings
into zero scores for the tests concerned and flags the notebook for an
instructor; the sentinel catches at run time what a scan cannot see.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

ALLOWED_NNLIB = ("nnlib.data", "nnlib.plot", "nnlib.idx", "nnlib.grading", "nnlib.pytorch.data",
                 "nnlib.pytorch.device")
FORBIDDEN_MODULES = {
    "IPython": "IPython's shell", "ipykernel": "the kernel", "builtins": "builtins", "inspect": "frames (inspect)",
    "gc": "the garbage collector's object lists (gc)", "ctypes": "raw memory (ctypes)",
    "subprocess": "processes (subprocess)", "signal": "signals", "importlib": "imports built at run time (importlib)",
    "threading": "threads", "_thread": "threads", "atexit": "exit handlers", "sqlite3": "databases (the gradebook)",
}
FORBIDDEN_CALLS = {
    "get_ipython": "IPython's shell (get_ipython)", "exec": "code built at run time (exec)",
    "eval": "code built at run time (eval)", "compile": "code built at run time (compile)",
    "__import__": "imports built at run time (__import__)", "globals": "the notebook's namespace (globals())",
    "exit": "ending the kernel (exit)", "quit": "ending the kernel (quit)",
    "setattr": None, "delattr": None,  # forbidden only on modules and library classes: see _check_call
}
FORBIDDEN_ATTRIBUTES = {
    "sys": {"settrace", "setprofile", "_getframe", "_current_frames", "modules", "excepthook", "displayhook",
            "meta_path", "path_hooks", "addaudithook", "exit", "monitoring"},
    "os": {"_exit", "kill", "killpg", "abort", "system", "popen", "fork", "execv", "execve", "execl", "execlp",
           "execvp", "spawnv", "spawnl", "posix_spawn"},
}
SECRET_PATHS = ("solutions", "gradebook", ".git", "autograded", "submitted", "feedback", "nbgrader_config")


@dataclass(frozen=True)
class Finding:
    kind: str      # "reference" or "tamper"
    line: int      # line in the cell
    message: str   # for the student

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _parse(source: str) -> ast.Module | None:
    """The cell's syntax tree; None when it does not parse (it then fails when run, and its tests with it)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _imports(tree: ast.AST) -> dict[str, str]:
    """Names bound by import statements -> the dotted name they stand for."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    bound[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def imported_names(source: str) -> dict[str, str]:
    """What a cell's import statements bind: name -> dotted module or object (empty when it does not parse)."""
    tree = _parse(source)
    return _imports(tree) if tree is not None else {}


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``np.testing.assert_allclose`` -> 'numpy.testing.assert_allclose' when ``np`` is an import alias."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id], *reversed(parts)])
    return None


def used_names(source: str, aliases: dict[str, str]) -> set[str]:
    """Every dotted library name a cell uses (its own imports included)."""
    tree = _parse(source)
    if tree is None:
        return set()
    aliases = {**aliases, **_imports(tree)}
    used = set(_imports(tree).values())
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)) and id(node) not in inner:
            name = _dotted(node, aliases)
            if name:
                used.add(name)
    used.discard("nnlib")  # `import nnlib` alone allows nothing: what counts is what is used from it
    return used


def bound_names(source: str) -> set[str]:
    """Names a cell binds at its top level (defs, classes, assignments, imports)."""
    tree = _parse(source)
    if tree is None:
        return set()
    names = set(_imports(ast.Module(body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))],
                                     type_ignores=[])))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With)):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if not isinstance(node, ast.With) else [i.optional_vars for i in node.items]
            for target in targets:
                for sub in ast.walk(target) if target is not None else ():
                    if isinstance(sub, ast.Name):
                        names.add(sub.id)
    return names


def loaded_names(source: str) -> set[str]:
    """Names a cell reads."""
    tree = _parse(source)
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@functools.lru_cache(maxsize=None)
def _module_of(name: str) -> str:
    """The module that defines an nnlib name: 'nnlib.ReLU' -> 'nnlib.layers' (nnlib re-exports its modules')."""
    import importlib

    parts = name.split(".")
    try:
        obj = importlib.import_module(parts[0])
        for i, part in enumerate(parts[1:], start=1):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                obj = importlib.import_module(".".join(parts[:i + 1]))
    except ImportError:
        return name
    return obj.__name__ if isinstance(obj, type(importlib)) else getattr(obj, "__module__", None) or name


def _implementation(name: str) -> bool:
    """True for nnlib names that implement what the exercises ask for (not data, plots or grading helpers)."""
    if not name.startswith("nnlib."):
        return False
    return not _module_of(name).startswith(ALLOWED_NNLIB)


def _covered(name: str, allowed: set[str]) -> bool:
    """An nnlib name is allowed when the reference uses a name from the same module (composing layers is fine)."""
    module = _module_of(name)
    return any(name == a or name.startswith(a + ".") or _module_of(a) == module for a in allowed)


def scan_cell(source: str, aliases: dict[str, str], protected: set[str],
              reference: str | None) -> list[Finding]:
    """Findings for one student cell.

    Args:
        source: the cell as the student wrote it.
        aliases: import aliases bound by the cells above (name -> dotted module or object).
        protected: names that read-only cells bound (grading helpers, test data).
        reference: the reference answer of this cell (None for a cell the student added).
    """
    tree = _parse(source)
    if tree is None:
        return []
    findings: list[Finding] = []
    own = _imports(tree)
    scope = {**aliases, **own}

    def tamper(node, message):
        findings.append(Finding("tamper", getattr(node, "lineno", 0), message))

    # reference implementations and the oracle
    ref_used = used_names(reference, aliases) if reference is not None else set()
    ref_torch = any(n == "torch" or n.startswith("torch.") for n in ref_used)
    # torch is the oracle only where the answer is numpy: a cell that works on tensors may use it freely
    numpy_answer = not ref_torch and any(n == "numpy" or n.startswith("numpy.") for n in ref_used)
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)) and id(node) not in inner:
            name = _dotted(node, scope)
            if name is None:
                continue
            if _implementation(name) and not _covered(name, ref_used):
                findings.append(Finding("reference", node.lineno, f"uses {name}, the course library's own "
                                        "implementation: the exercise is to write it yourself"))
            elif (name == "torch" or name.startswith("torch.")) and numpy_answer:
                findings.append(Finding("reference", node.lineno, f"uses {name}: this answer is to be written in "
                                        "numpy (torch is what the tests compare it with)"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                full = (node.module + "." + alias.name) if isinstance(node, ast.ImportFrom) and node.module \
                    else alias.name
                root = full.split(".")[0]
                if root in FORBIDDEN_MODULES:
                    tamper(node, f"imports {full}: {FORBIDDEN_MODULES[root]} is off limits in graded code")
                elif _implementation(full) and not _covered(full, ref_used):
                    findings.append(Finding("reference", node.lineno, f"imports {full}, the course library's own "
                                            "implementation: the exercise is to write it yourself"))
                name = alias.asname or (alias.name if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0])
                target = own.get(name)
                if name in protected and aliases.get(name) != target:
                    tamper(node, f"rebinds {name}, which a read-only cell set and the tests use")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = list(node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target])
            while targets:
                target = targets.pop()
                if isinstance(target, (ast.Tuple, ast.List)):
                    targets += target.elts
                elif isinstance(target, ast.Starred):
                    targets.append(target.value)
                elif isinstance(target, ast.Attribute) and _dotted(target.value, scope) is not None:
                    tamper(target, f"changes {_dotted(target, scope)}: code being graded must not change a library")
                elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute) \
                        and _dotted(target.value, scope) is not None:
                    tamper(target, f"writes into {_dotted(target.value, scope)}: code being graded must not change "
                           "a library")
                elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Call) \
                        and isinstance(target.value.func, ast.Name) and target.value.func.id in ("globals", "vars"):
                    tamper(target, f"writes into {target.value.func.id}()")
        elif isinstance(node, ast.Call):
            _check_call(node, scope, tamper)
        elif isinstance(node, ast.Attribute):
            owner = _dotted(node.value, scope)
            if owner in FORBIDDEN_ATTRIBUTES and node.attr in FORBIDDEN_ATTRIBUTES[owner]:
                tamper(node, f"uses {owner}.{node.attr}: off limits in graded code")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "get_ipython") and isinstance(node.ctx, ast.Load):
            tamper(node, f"uses {node.id}: off limits in graded code")
        elif isinstance(node, ast.Constant) and _secret_path(node.value):
            tamper(node, f"names the path {node.value[:60]!r}: the solutions and the gradebook are off limits")
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in protected:
            tamper(node, f"redefines {node.name}, which a read-only cell set and the tests use")
    for name in bound_names(source) - set(own):
        if name in protected:
            line = next((n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name
                         and isinstance(n.ctx, ast.Store)), 0)
            if line:
                tamper(ast.Name(lineno=line), f"assigns to {name}, which a read-only cell set and the tests use")
    unique: dict[tuple, Finding] = {}
    for f in findings:  # one finding per kind and line is enough to act on
        unique.setdefault((f.kind, f.line), f)
    return sorted(unique.values(), key=lambda f: (f.line, f.kind))


def _secret_path(value) -> bool:
    """A string that looks like a path to the course's solutions, gradebook or other students' work."""
    return isinstance(value, str) and "\n" not in value and len(value) < 300 \
        and ("/" in value or value.endswith((".db", ".ipynb"))) and any(s in value for s in SECRET_PATHS)


def protected_by(source: str, is_test: bool) -> set[str]:
    """Names a read-only cell makes off limits to later student cells.

    A given (read-only) cell: everything it binds (helpers, test data). A test cell: only its
    imports (later tests may rely on ``torch`` imported there; its own variables are its own).
    """
    return bound_names(source) if not is_test else set(imported_names(source))


def _check_call(node: ast.Call, scope: dict[str, str], tamper) -> None:
    func = node.func
    if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS and func.id not in scope:
        what = FORBIDDEN_CALLS[func.id]
        if what is not None:
            tamper(node, f"uses {what}: off limits in graded code")
        elif node.args and (_dotted(node.args[0], scope) is not None):
            tamper(node, f"{func.id} on {_dotted(node.args[0], scope)}: code being graded must not change a library")
    elif isinstance(func, ast.Name) and func.id == "vars" and node.args and _dotted(node.args[0], scope):
        tamper(node, f"uses vars({_dotted(node.args[0], scope)}): code being graded must not change a library")
