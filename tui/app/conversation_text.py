"""A conversation as editable text: each message opens with its role on a line of its own.

    [user]
    What is the Smol Course?

    [assistant]
    A short course on small language models.
"""

from __future__ import annotations

import re

from tui.engine.chat_template import Message
from tui.engine.errors import BadInput

ROLES = ("system", "user", "assistant")
_ROLE_LINE = re.compile(r"^\[(system|user|assistant)\]\s*$")


def conversation_to_text(conversation: list[Message]) -> str:
    return "\n\n".join(f"[{m['role']}]\n{m['content'].strip()}" for m in conversation)


def text_to_conversation(text: str) -> list[Message]:
    """Parse the edited text back; BadInput names the line when the text is not a conversation."""
    messages: list[Message] = []
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _ROLE_LINE.match(line)
        if match:
            if messages:
                messages[-1]["content"] = "\n".join(body).strip()
            messages.append({"role": match.group(1), "content": ""})
            body = []
        elif messages:
            body.append(line)
        elif line.strip():
            raise BadInput(f"line {number}: text before the first role line; start with [user] (or [system])")
    if messages:
        messages[-1]["content"] = "\n".join(body).strip()
    if not any(m["role"] == "user" for m in messages):
        raise BadInput("the conversation needs a [user] message")
    empty = next((m["role"] for m in messages if not m["content"]), None)
    if empty:
        raise BadInput(f"an empty [{empty}] message; write its text or remove its role line")
    return messages
