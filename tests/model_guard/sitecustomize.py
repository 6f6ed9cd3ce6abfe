"""Refuses to load a model's weights through llama.cpp while a test without the `model` mark runs.

The test suite's conftest turns this on for such a test, in its own process and, by putting this folder
first on PYTHONPATH (Python imports `sitecustomize` at start-up), in every Python process the test starts.
A refused load is written to the file named by the environment variable, so the test fails even where
smolgen turns the refusal into a one-line error. Reading only a model's vocabulary (a token counter) is
allowed: it does no arithmetic, so it gives the same answer on every CPU. (In those child processes this
module takes the place of any other `sitecustomize`; the project's own test setup has none.)
"""

from __future__ import annotations

import importlib.util
import os
import sys

LOADS_LOG = "SMOLGEN_TESTS_REFUSED_MODEL_LOADS"  # set: the file a refused load is recorded in
LOADERS = ("llama_model_load_from_file", "llama_load_model_from_file", "llama_model_load_from_splits")


class ModelLoadRefused(RuntimeError):
    """A test without the `model` mark asked llama.cpp for a model's weights."""


def refuse_model_loads(package) -> None:
    """Wrap llama.cpp's model loaders, in the bindings and in the package's namespace, so that they refuse
    (and record it) while the environment names a log; otherwise they load as before."""
    bindings = package.llama_cpp
    for name in LOADERS:
        load = getattr(bindings, name)
        if getattr(load, "refuses_model_loads", False):
            continue

        def refusing(*args, _load=load, _name=name):
            log = os.environ.get(LOADS_LOG)
            if log and not args[-1].vocab_only:  # the last argument is the llama_model_params
                with open(log, "a", encoding="utf-8") as refused:
                    refused.write(f"{_name} in pid {os.getpid()}: {' '.join(sys.argv)}\n")
                raise ModelLoadRefused("a test without the `model` mark tried to load the real model")
            return _load(*args)

        refusing.refuses_model_loads = True
        setattr(bindings, name, refusing)
        setattr(package, name, refusing)


class _RefuseOnImport:
    """Wraps the loaders as soon as llama_cpp is imported, so a process that never needs it does not pay its import."""

    def find_spec(self, name, path=None, target=None):
        if name != "llama_cpp":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            refuse_model_loads(module)

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Guard llama.cpp's loaders in this process, now or when llama_cpp is first imported."""
    if "llama_cpp" in sys.modules:
        refuse_model_loads(sys.modules["llama_cpp"])
    elif not any(isinstance(finder, _RefuseOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RefuseOnImport())


if os.environ.get(LOADS_LOG):
    install()
