"""Prompt templates: plain Jinja2 files in `prompts/`, overridden or extended by a user folder.

Templates render in a sandbox with strict undefined variables. Seed and model text reach a template
only as variable values, so text such as ``{{ 7*7 }}`` inside a seed stays literally that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tui.engine.errors import TemplateProblem

TEMPLATE_SUFFIX = ".jinja2"


def shipped_prompts_dir() -> Path:
    """The templates that ship with smolgen: inside the wheel, or at the top of a source checkout."""
    package_dir = Path(__file__).resolve().parent.parent
    for candidate in (package_dir / "prompts", package_dir.parent / "prompts"):
        if candidate.is_dir():
            return candidate
    raise TemplateProblem(f"{package_dir}: the shipped prompts folder is missing; reinstall smolgen")


def sandboxed_environment(loader: jinja2.BaseLoader | None = None) -> ImmutableSandboxedEnvironment:
    """A sandboxed Jinja2 environment that fails on undefined variables instead of printing nothing."""
    return ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


@dataclass(frozen=True)
class PromptTemplate:
    """One loaded template: its name, the file it came from and its source text."""

    name: str
    path: Path
    source: str
    template: jinja2.Template

    def render(self, **variables: Any) -> str:
        """Render with the given variables; errors name the template file and line."""
        try:
            return self.template.render(**variables).strip()
        except jinja2.TemplateError as error:
            raise TemplateProblem(f"{_where(error, self.path)}: {_describe(error)}") from None

    def example_words(self, **variables: Any) -> tuple[str, ...]:
        """The topic words of the template's worked example (see `render_with_example_words`)."""
        return self.render_with_example_words(**variables)[1]

    def render_with_example_words(self, **variables: Any) -> tuple[str, tuple[str, ...]]:
        """The rendered text and, in the same rendering, the topic words of the template's worked
        example when it names them with `{% set example_words = [...] %}`: a small model copies its
        example's topic, and these let a filter tell such a borrowing from an instruction about the seed."""
        try:
            module = self.template.make_module(variables)
        except jinja2.TemplateError as error:
            raise TemplateProblem(f"{_where(error, self.path)}: {_describe(error)}") from None
        words = getattr(module, "example_words", ())
        if isinstance(words, str) or not all(isinstance(word, str) for word in words):
            raise TemplateProblem(f"{self.path}: example_words must be a list of words, e.g. [\"honey\", \"bees\"]")
        return str(module).strip(), tuple(word.casefold() for word in words)


class PromptLibrary:
    """Finds templates by name: the user's folder first, then the shipped one."""

    def __init__(self, user_dir: Path | None = None):
        self.user_dir = Path(user_dir) if user_dir else None
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise TemplateProblem(f"{self.user_dir}: prompts folder not found")
        self.shipped_dir = shipped_prompts_dir()
        self.search_path = [d for d in (self.user_dir, self.shipped_dir) if d is not None]
        self._env = sandboxed_environment(jinja2.FileSystemLoader([str(d) for d in self.search_path]))

    def path_of(self, name: str) -> Path:
        """The file a template name resolves to (the user's copy wins)."""
        filename = _filename(name)
        for folder in self.search_path:
            candidate = folder / filename
            if candidate.is_file():
                return candidate
        known = ", ".join(self.names()) or "none"
        raise TemplateProblem(f"template {name!r} not found in {', '.join(map(str, self.search_path))} (known: {known})")

    def load(self, name: str) -> PromptTemplate:
        """Load and compile a template; a syntax error names the file and line."""
        path = self.path_of(name)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise TemplateProblem(f"{path}: cannot read template ({error})") from None
        return PromptTemplate(name=name, path=path, source=source, template=self._compile(source, path))

    def _compile(self, source: str, path: Path) -> jinja2.Template:
        try:
            return self._env.from_string(source)
        except jinja2.TemplateSyntaxError as error:
            raise TemplateProblem(f"{path}:{error.lineno}: {error.message}") from None

    def check_source(self, source: str, path: Path) -> None:
        """Raise TemplateProblem if `source` is not valid Jinja2 (used before saving an edit)."""
        self._compile(source, path)

    def names(self) -> list[str]:
        """Every template name available, shipped and user ones."""
        found: set[str] = set()
        for folder in self.search_path:
            for file in folder.rglob(f"*{TEMPLATE_SUFFIX}"):
                found.add(file.relative_to(folder).as_posix()[: -len(TEMPLATE_SUFFIX)])
        return sorted(found)


def _filename(name: str) -> str:
    return name if name.endswith(TEMPLATE_SUFFIX) else name + TEMPLATE_SUFFIX


def _where(error: jinja2.TemplateError, path: Path) -> str:
    """file:line of an error, in the template rendered or in one it extends or includes."""
    filename, lineno = getattr(error, "filename", None), getattr(error, "lineno", None)
    if lineno is None:
        filename, lineno = _runtime_location(error)
    return f"{filename or path}" + (f":{lineno}" if lineno else "")


def _runtime_location(error: BaseException) -> tuple[str | None, int | None]:
    """Jinja2 maps runtime errors back to template lines in the traceback; take the deepest one.

    A template compiled from a string shows as "<template>" (the rendered file); one loaded by
    name, as a parent it extends, shows as its own file.
    """
    location: tuple[str | None, int | None] = (None, None)
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == "<template>":
            location = (None, tb.tb_lineno)
        elif filename.endswith(TEMPLATE_SUFFIX):
            location = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return location


def _describe(error: jinja2.TemplateError) -> str:
    if isinstance(error, jinja2.UndefinedError):
        return f"{error.message} (the input row has no such column)"
    return error.message or type(error).__name__
