"""Errors a user can act on. Their message is one line that names the file, field or key at fault."""


class SmolgenError(Exception):
    """A failure reported to the user as one line; the CLI exits with status 1."""

    exit_code = 1


class BadInput(SmolgenError):
    """The user's input (a file, a flag, a template) is wrong; the CLI exits with status 2."""

    exit_code = 2

    def located(self, where: str) -> "BadInput":
        """The same error, of its own kind and with what it keeps, its line after `where` (a file's table, a step)."""
        located = type(self).__new__(type(self), f"{where} {self}")
        located.__dict__.update(self.__dict__)
        return located


class ModelFileError(BadInput):
    """A model path that cannot be opened as a GGUF model."""


class TemplateProblem(BadInput):
    """A prompt or chat template that cannot be loaded or rendered."""


class StoreError(SmolgenError):
    """The sample store cannot be opened or written."""


class StoreLocked(StoreError):
    """Another process holds the store."""


class StoreUnwritable(StoreError):
    """A change cannot be written (a full disk, a read-only folder, a store opened for reading); nothing stored is lost."""


class StoreDamaged(StoreError):
    """The store holds lines it cannot read; `smolgen store repair` keeps every readable change."""


class RunHalted(SmolgenError):
    """The run cannot go on (every server is down): it stops, keeping what it stored, and says why."""


class GenerationFailed(SmolgenError):
    """One generation failed (context overflow, empty output...); the run records it and goes on."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
