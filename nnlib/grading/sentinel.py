"""The grader's watch inside the kernel that runs a submission (see preprocessors.GuardedExecute).

nbgrader runs a student's cells and the hidden tests in one Python process, so
student code can change what the tests rely on: replace ``np.allclose`` or a
grading helper, install an IPython input transformer that empties every test,
read the oracle's values out of the test's frame, open the solutions on disk.
The sentinel is installed before the first cell and works in two ways:

- an **audit hook** (PEP 578; once added, it cannot be removed) refuses, while a
  submission is graded: reading a caller's frame from student code
  (``sys._getframe``, ``inspect.stack``, ``tb_frame``, ``gi_frame``), swapping the
  ``__code__`` of a library function, ``sys.settrace``/``setprofile``, ``ctypes``,
  ``gc.get_referrers``/``get_objects``, starting processes or sending signals from
  student code, and opening any file of the course outside the submission's own
  folder (solutions, gradebook, other students' work, the repository's history);
- a **snapshot** of what the tests rely on, taken before student code runs and
  extended after every read-only cell: the callables of numpy, torch's testing,
  autograd, nn and optim modules, nnlib, math, operator and builtins (module
  attributes and the methods of their classes); the modules themselves in
  ``sys.modules``; IPython's input and AST transformers, event callbacks, custom
  exception handler and methods; trace and profile functions; and the names that
  read-only cells bound in the notebook. ``check()`` compares, puts back every
  original, and reports what it had to put back.

The preprocessor calls ``check()`` through ``user_expressions`` (which IPython
evaluates without input transformers) before and after every test cell. What it
reports zeroes the test cell concerned and flags the notebook for manual
grading. This is a defence in the student's own process: someone who studies
this file can still defeat it (README, "What the grader guarantees").
"""
from __future__ import annotations

import json
import os
import sys
import threading
import types

PROTECTED_PREFIXES = ("numpy", "torch.testing", "torch.autograd", "torch.nn", "torch.optim", "torch._tensor",
                      "torch.utils.data", "nnlib", "math", "operator", "builtins", "functools")
PROTECTED_EXACT = ("torch",)
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
FROM_STUDENT = {  # audit event -> what the student is told; refused when student code raises it
    "sys._getframe": "reading the calling code's frame (sys._getframe, inspect.currentframe, inspect.stack)",
    "sys._current_frames": "reading other threads' frames (sys._current_frames)",
    "sys.settrace": "installing a trace function (sys.settrace)",
    "sys.setprofile": "installing a profile function (sys.setprofile)",
    "gc.get_referrers": "searching the grader's objects (gc.get_referrers)",
    "gc.get_referents": "searching the grader's objects (gc.get_referents)",
    "gc.get_objects": "searching the grader's objects (gc.get_objects)",
    "subprocess.Popen": "starting a process (subprocess)",
    "os.system": "starting a process (os.system)",
    "os.exec": "replacing the process (os.exec*)",
    "os.posix_spawn": "starting a process (os.posix_spawn)",
    "os.spawn": "starting a process (os.spawn*)",
    "os.kill": "sending a signal (os.kill)",
    "os.killpg": "sending a signal (os.killpg)",
    "signal.pthread_kill": "sending a signal (signal.pthread_kill)",
    "sys.addaudithook": "adding an audit hook (sys.addaudithook)",
    "code.__new__": "building code objects by hand (types.CodeType)",
}


class IntegrityError(PermissionError):
    """Raised in the kernel when student code does something grading does not allow."""


def _library_dirs() -> tuple[str, ...]:
    import sysconfig

    paths = sysconfig.get_paths()
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, paths.get("stdlib", ""), paths.get("purelib", ""),
            paths.get("platlib", ""), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    return tuple(os.path.realpath(d) + os.sep for d in dirs if d)


def _protected(name: str) -> bool:
    return name in PROTECTED_EXACT or any(name == p or name.startswith(p + ".") for p in PROTECTED_PREFIXES)


def _callables(namespace: dict) -> dict:
    return {k: v for k, v in list(namespace.items())
            if callable(v) or isinstance(v, (types.ModuleType, classmethod, staticmethod, property))}


class Sentinel:
    """One per grading kernel; see the module docstring."""

    def __init__(self, course_root: str, workdir: str):
        self.course_root = os.path.realpath(course_root) + os.sep
        self.library = _library_dirs()  # installed packages, the standard library and nnlib
        self.allowed = (os.path.realpath(workdir) + os.sep, *self.library)  # files a submission may open
        self.findings: list[str] = []
        self.student_files: set[str] = set()
        self.in_student_cell = False
        self.modules: dict[str, types.ModuleType] = {}
        self.module_attrs: dict[str, dict] = {}
        self.class_attrs: dict[type, dict] = {}
        self.names: dict[str, object] = {}
        self.threads = {t.ident for t in threading.enumerate()}
        self.shell = None
        try:
            from IPython import get_ipython
            self.shell = get_ipython()
        except ImportError:
            pass
        self._snapshot_ipython()
        self.protect_modules()
        self._install_hook()

    # -- what the tests rely on ------------------------------------------------
    def protect_modules(self) -> None:
        """Record every protected module imported so far (called again after each read-only cell)."""
        for name, module in list(sys.modules.items()):
            if name in self.modules or not isinstance(module, types.ModuleType) or not _protected(name):
                continue
            self.modules[name] = module
            self.module_attrs[name] = _callables(vars(module))
            for value in self.module_attrs[name].values():
                if isinstance(value, type) and getattr(value, "__module__", None) == name \
                        and value not in self.class_attrs:
                    self.class_attrs[value] = _callables(dict(vars(value)))

    def protect_names(self, names) -> None:
        """Record the values that a read-only cell bound to ``names`` in the notebook's namespace."""
        ns = self.shell.user_ns if self.shell is not None else {}
        for name in names:
            if name in ns:
                self.names[name] = ns[name]

    def _snapshot_ipython(self) -> None:
        self.trace = (sys.gettrace(), sys.getprofile(), threading._trace_hook, threading._profile_hook)
        self.hooks = (sys.excepthook, sys.displayhook)
        ip = self.shell
        if ip is None:
            return
        tm = ip.input_transformer_manager
        self.ip_lists = [(tm, "cleanup_transforms", list(tm.cleanup_transforms)),
                         (tm, "line_transforms", list(tm.line_transforms)),
                         (tm, "token_transformers", list(tm.token_transformers)),
                         (ip, "input_transformers_post", list(ip.input_transformers_post)),
                         (ip, "ast_transformers", list(ip.ast_transformers))]
        self.ip_lists += [(ip.events.callbacks, event, list(cbs)) for event, cbs in ip.events.callbacks.items()]
        self.ip_custom = (ip.custom_exceptions, ip.__dict__.get("CustomTB"))
        self.instances = [(obj, _callables(dict(vars(obj)))) for obj in (ip, getattr(ip, "kernel", None),
                                                                         getattr(ip, "compile", None)) if obj is not None]
        for obj, _ in self.instances:
            for cls in type(obj).__mro__:
                if cls is not object and cls not in self.class_attrs and hasattr(cls, "__dict__"):
                    self.class_attrs[cls] = _callables(dict(vars(cls)))

    def check(self) -> str:
        """Put back everything changed since the snapshot; JSON list of what was changed (and refused)."""
        found = list(self.findings)  # the audit hook holds this list: empty it in place
        self.findings.clear()
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                found.append(f"sys.modules[{name!r}] was replaced")
                sys.modules[name] = module
            found += self._compare(module, self.module_attrs[name], name)
        for cls, attrs in self.class_attrs.items():
            found += self._compare(cls, attrs, f"{cls.__module__}.{cls.__qualname__}")
            current = vars(cls)
            for key in set(current) - set(attrs):
                value = current[key]
                if callable(value) and any(key in vars(base) for base in cls.__mro__[1:]):
                    if self._library_object(value):  # e.g. torch wraps Optimizer.step per subclass
                        attrs[key] = value
                        continue
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{key} was overridden")
                    try:
                        delattr(cls, key)
                    except (TypeError, AttributeError):
                        pass
        ns = self.shell.user_ns if self.shell is not None else {}
        for name, value in self.names.items():
            if ns.get(name, _MISSING) is not value:
                found.append(f"the name {name!r}, set by a read-only cell, was rebound")
                ns[name] = value
        if (sys.gettrace(), sys.getprofile(), threading._trace_hook, threading._profile_hook) != self.trace:
            found.append("a trace or profile function was installed")
            sys.settrace(self.trace[0]), sys.setprofile(self.trace[1])
            threading._trace_hook, threading._profile_hook = self.trace[2], self.trace[3]
        if (sys.excepthook, sys.displayhook) != self.hooks:
            found.append("sys.excepthook or sys.displayhook was replaced")
            sys.excepthook, sys.displayhook = self.hooks
        if self.shell is not None:
            found += self._check_ipython()
        for thread in threading.enumerate():
            if thread.ident not in self.threads and self._is_student_code(_thread_code(thread)):
                found.append(f"a thread started by student code is running ({thread.name})")
        return json.dumps(found)

    def _compare(self, owner, saved: dict, label: str) -> list[str]:
        """Put back what student code replaced in a module's or class's namespace.

        Libraries rewrap their own functions at run time (torch wraps ``Optimizer.step``
        and more): a replacement whose code lies in an installed package is accepted
        and becomes the new original. Anything else (a lambda from a cell, a builtin
        such as ``print``, a partial) is put back and reported.
        """
        found, current = [], vars(owner)
        for key, value in list(saved.items()):
            now = current.get(key, _MISSING)
            if now is value:
                continue
            if now is not _MISSING and self._library_object(now):
                saved[key] = now
                continue
            found.append(f"{label}.{key} was {'deleted' if now is _MISSING else 'replaced'}")
            try:
                setattr(owner, key, value)
            except (TypeError, AttributeError):
                pass
        return found

    def _check_ipython(self) -> list[str]:
        """Remove transformers, callbacks and methods that student code added to the shell; keep libraries'."""
        found, ip = [], self.shell
        for i, (owner, key, saved) in enumerate(self.ip_lists):
            current = owner[key] if isinstance(owner, dict) else getattr(owner, key)
            added = [f for f in current if not any(f is g for g in saved) and not self._library_object(f)]
            if added:
                found.append(f"IPython's {key} were changed ({len(added)} added by student code)")
                current[:] = [f for f in current if not any(f is a for a in added)]
            self.ip_lists[i] = (owner, key, list(current))
        if (ip.custom_exceptions, ip.__dict__.get("CustomTB")) != self.ip_custom:
            found.append("a custom exception handler was installed (set_custom_exc)")
            ip.custom_exceptions = self.ip_custom[0]
            if self.ip_custom[1] is None:
                ip.__dict__.pop("CustomTB", None)
            else:
                ip.CustomTB = self.ip_custom[1]
        for i, (obj, saved) in enumerate(self.instances):
            current = vars(obj)
            for key in list(current):
                value = current[key]
                if callable(value) and value is not saved.get(key, _MISSING) and not self._library_object(value):
                    found.append(f"{type(obj).__name__}.{key} was replaced on the running kernel")
                    if key in saved:
                        current[key] = saved[key]
                    else:
                        del current[key]
            self.instances[i] = (obj, _callables(dict(current)))
        return found

    def _library_object(self, obj) -> bool:
        """True for functions (and bound methods, callable objects) whose code lies in an installed package."""
        library = self.library
        for candidate in (obj, getattr(obj, "__func__", None), getattr(type(obj), "__call__", None)):
            code = getattr(candidate, "__code__", None)
            if code is not None:
                return code.co_filename.startswith(library)
        if isinstance(obj, types.ModuleType):  # a lazily imported submodule replacing its stub
            return (getattr(obj, "__file__", None) or "").startswith(library)
        module = sys.modules.get(getattr(obj, "__module__", None) or "__main__")
        # classes and compiled functions of an installed package (print's module, builtins, has no file)
        return module is not None and (getattr(module, "__file__", None) or "").startswith(library)

    # -- the audit hook --------------------------------------------------------
    def student_cell(self, running: bool) -> None:
        """Tell the sentinel whether the next cell is the student's (its code then counts as student code)."""
        self.in_student_cell = bool(running)

    def _is_student_code(self, code) -> bool:
        return code is not None and code.co_filename in self.student_files

    def _forbidden_path(self, path) -> bool:
        if isinstance(path, int):
            return False
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        inside = real + os.sep if os.path.isdir(real) else real
        return inside.startswith(self.course_root) and not inside.startswith(self.allowed)

    def _install_hook(self) -> None:
        busy = [False]
        findings, watched = self.findings, FROM_STUDENT
        getframe, library = sys._getframe, self.library

        def refuse(what: str):
            findings.append(f"refused: {what}")
            raise IntegrityError(f"{what} is not allowed while the notebook is graded")

        def from_student() -> bool:
            frame = getframe(2)  # the caller of the audited operation (0: this function, 1: the hook)
            for _ in range(2):
                if frame is None:
                    return False
                if frame.f_code.co_filename in self.student_files:
                    return True
                if not frame.f_code.co_filename.endswith(("inspect.py", "traceback.py")):
                    return False
                frame = frame.f_back
            return False

        def hook(event, args):
            if busy[0]:
                return
            busy[0] = True
            try:
                if event == "exec":
                    code = args[0]
                    if self.in_student_cell and isinstance(code, types.CodeType) \
                            and not code.co_filename.startswith(library):
                        self.student_files.add(code.co_filename)
                elif event == "open" or event == "sqlite3.connect":
                    if args and self._forbidden_path(args[0]):
                        refuse(f"opening {os.fsdecode(args[0])} (a course file outside your submission)")
                elif event == "object.__getattr__":
                    if args[1] in FRAME_ATTRIBUTES and from_student():
                        refuse(f"reading {args[1]} (frames of the calling code)")
                elif event == "object.__setattr__":
                    if args[1] == "__code__" and isinstance(args[0], types.FunctionType) \
                            and _protected(getattr(args[0], "__module__", "") or "") and from_student():
                        refuse(f"replacing the code of {args[0].__module__}.{args[0].__qualname__}")
                elif event in watched or event.startswith("ctypes."):
                    if from_student():
                        refuse(watched.get(event, f"using ctypes ({event})"))
            finally:
                busy[0] = False

        sys.addaudithook(hook)


def _thread_code(thread: threading.Thread):
    target = getattr(thread, "_target", None)
    for fn in (target, getattr(type(thread), "run", None)):
        code = getattr(fn, "__code__", None)
        if code is not None and fn is not threading.Thread.run:
            return code
    return None


_MISSING = object()
SENTINEL: Sentinel | None = None


def install(course_root: str, workdir: str) -> str:
    """Create the kernel's sentinel (once); called by the grader before the first cell."""
    global SENTINEL
    if SENTINEL is None:
        SENTINEL = Sentinel(course_root, workdir)
    return "installed"


def after_read_only_cell(names) -> str:
    """After a read-only cell: protect the names it bound and the modules it imported."""
    SENTINEL.protect_modules()
    SENTINEL.protect_names(names)
    return "ok"


