"""Shared fixtures: the real embedded model (loaded once), stores in temporary folders, the chapter's data.

Every test that loads the real model carries the `model` mark, so `pytest -m "not model"` runs without
it: a test using a fixture that loads it is marked here, a test that starts `smolgen` on the real model
is marked where it is written. A test without the mark that loads the model anyway, in this process or
in one it starts, fails (tests/model_guard).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.model_guard import sitecustomize as model_guard

# Bytecode kept in __pycache__ (git ignores it) even where PYTHONDONTWRITEBYTECODE is set: without it each
# xdist worker rewrites every test module's asserts anew each run (half its collection), and each `smolgen`
# a test starts compiles tui/ again. Set here, before pytest imports the test modules; the workers and the
# processes the tests start inherit the environment.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # a copy of shared/data: the chapter's passage
SMOLGEN = [sys.executable, "-m", "tui"]
MODEL_FIXTURES = {"model", "app_model", "real_backend", "llama_server"}  # the fixtures that load the real model
GUARD_DIR = str(Path(model_guard.__file__).parent)
PYTHONPATH_BEFORE = pytest.StashKey[str | None]()
REFUSED_LOADS = pytest.StashKey[Path]()  # the file the guard records refused loads in
SNAPSHOT_REPORT_DEFAULT = "snapshot_report.html"  # pytest-textual-snapshot's, in the folder pytest runs in


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by mark, and before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)
        if item.get_closest_marker("model") is not None:
            # One model test at a time (on one xdist worker): two side by side spin each other's llama.cpp
            # threads, costing half as much CPU again and more time than running them in turn.
            item.add_marker(pytest.mark.xdist_group("model"))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` without the model tests: two workers a core, as an app test waits on its app for part of its
    time, which another worker fills. With them, xdist's own count: llama.cpp's threads want whole cores."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or "not model" not in (config.option.markexpr or ""):
        return None
    return 2 * (os.cpu_count() or 1)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("snapshot_report", None) == SNAPSHOT_REPORT_DEFAULT:  # the report of differing snapshots: not in the clone
        config.option.snapshot_report = str(Path(tempfile.gettempdir()) / "smolgen-snapshot-report.html")
    handle, path = tempfile.mkstemp(prefix="smolgen-refused-model-loads-")
    os.close(handle)
    config.stash[REFUSED_LOADS] = Path(path)
    model_guard.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    config.stash[REFUSED_LOADS].unlink(missing_ok=True)


@pytest.hookimpl(tryfirst=True)  # before fixtures, so that one starting `smolgen` for the test is guarded too
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("model") is None:
        item.stash[PYTHONPATH_BEFORE] = os.environ.get("PYTHONPATH")
        os.environ[model_guard.LOADS_LOG] = str(item.config.stash[REFUSED_LOADS])
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [GUARD_DIR, os.environ.get("PYTHONPATH")]))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if PYTHONPATH_BEFORE not in item.stash:
        return
    del os.environ[model_guard.LOADS_LOG]
    before = item.stash[PYTHONPATH_BEFORE]
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before
    log = item.config.stash[REFUSED_LOADS]
    refused = log.read_text(encoding="utf-8")
    if refused:
        log.write_text("", encoding="utf-8")
        pytest.fail(f"{item.nodeid} loaded the real model without the `model` mark:\n{refused}", pytrace=False)


# Where smolgen and the tools whose models it lists look for a person's files: never the real ones in a test.
USER_FOLDER_VARIABLES = ("SMOLGEN_CONFIG_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "LLAMA_CACHE", "OLLAMA_MODELS")


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder of the test's own (config, remembered settings, caches, model stores), so no test reads
    the real user's files or another test's."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in USER_FOLDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def model():
    from tui.engine.model import Model

    return Model.load(n_ctx=2048)


@pytest.fixture
def store(tmp_path):
    from tui.engine.store import SampleStore

    with SampleStore(tmp_path / "store.json") as opened:
        yield opened


@pytest.fixture
def prompts():
    from tui.engine.prompts import PromptLibrary

    return PromptLibrary()


@pytest.fixture
def chapter_passage() -> dict[str, str]:
    """The chapter's "From prompt to data" passage, in English and Vietnamese."""
    return {lang: (DATA / f"prompt_to_data.{lang}.txt").read_text(encoding="utf-8").strip() for lang in ("en", "vi")}


def run_smolgen(*args: str, cwd: Path, timeout: float = 300, env_extra: dict[str, str] | None = None,
                **kwargs) -> subprocess.CompletedProcess:
    """Run the real `smolgen` command in a subprocess, as a user would. For what only a process shows: the
    entry point, stop signals, `--log`, a lock held by another process, a benchmark's memory, the app."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.run([*SMOLGEN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


def run_cli(*args: str, cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `smolgen` in this process (`tui.cli.main`), a fraction of a new process's cost: the same exit status,
    stdout and stderr as run_smolgen gives (an exception that escapes is a traceback on stderr and status 1, as
    Python would make it), with the working folder, environment, standard streams, logging and signal handlers
    put back afterwards."""
    from tui.cli import main

    out, err = _captured_stream(), _captured_stream()
    with _process_state_kept(cwd, env_extra or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        sys.stdin, stdin = io.StringIO(""), sys.stdin  # nothing typed, as from a closed terminal
        try:
            status = main(list(args))
        except SystemExit as stop:  # argparse's --help and --version
            status = _exit_status(stop)
        except Exception:
            traceback.print_exc()
            status = 1
        finally:
            sys.stdin = stdin
    return subprocess.CompletedProcess([*SMOLGEN, *args], status, _text_of(out), _text_of(err))


def _captured_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


def _text_of(stream: io.TextIOWrapper) -> str:
    return stream.buffer.getvalue().decode("utf-8")


def _exit_status(stop: SystemExit) -> int:
    if stop.code is None or isinstance(stop.code, int):
        return stop.code or 0
    print(stop.code, file=sys.stderr)  # as Python does with `raise SystemExit("message")`
    return 1


@contextlib.contextmanager
def _process_state_kept(cwd: Path, env_extra: dict[str, str]) -> Iterator[None]:
    """What a command may change for its whole process, put back once it returns."""
    folder, env_before = os.getcwd(), {name: os.environ.get(name) for name in env_extra}
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    handlers_of_signals = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    os.chdir(cwd)
    os.environ.update(env_extra)
    try:
        yield
    finally:
        os.chdir(folder)
        for name, value in env_before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for signum, handler in handlers_of_signals.items():
            signal.signal(signum, handler)


@pytest.fixture(scope="session")
def llama_server():
    """llama.cpp's llama-server (built by `make`) on 127.0.0.1 with the embedded model and 4 slots."""
    from tui.engine.server.local import LocalServer

    with LocalServer(slots=4, context_per_slot=1024, threads=2) as server:
        yield server
