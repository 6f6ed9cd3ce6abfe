"""A model named in one text field (a judge model, a responder): a GGUF file's path or an OpenAI-compatible
server's URL, told apart by the URL's scheme."""

from __future__ import annotations

import os
from pathlib import Path

from tui.engine.errors import BadInput

SERVER_SCHEMES = ("http://", "https://")


def is_server_url(spec: str) -> bool:
    """Whether a model named in a field is a server's URL (else a GGUF file's path)."""
    return spec.strip().lower().startswith(SERVER_SCHEMES)


def check_model_spec(spec: str, what: str) -> None:
    """A GGUF path must name a file (BadInput naming `what` otherwise); a URL is checked when it is connected to."""
    if not is_server_url(spec) and not Path(spec.strip()).expanduser().is_file():
        raise BadInput(f"{what} {spec.strip()}: no such GGUF file (or give a server's http:// URL)")


class KeyVariableUnset(BadInput):
    """A server key's variable that is not set. It keeps the variable, so a front end whose setting has
    another name than `what` can name it its own way."""

    def __init__(self, what: str, variable: str):
        self.variable = variable
        super().__init__(self.named(what))

    def named(self, what: str) -> str:
        """The line, naming the setting `what`."""
        return f"{what} {self.variable}: that environment variable is not set"


def check_key_variable(variable: str, what: str) -> None:
    """A server key's variable, when named, must be set (KeyVariableUnset naming `what` and the variable);
    the key itself is read only when the server is connected to."""
    variable = variable.strip()
    if variable and not os.environ.get(variable):
        raise KeyVariableUnset(what, variable)
