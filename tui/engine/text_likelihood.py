"""How likely an in-process model finds a text after a context: the mean log-probability of the text's
tokens, from one decode of context + text that keeps the logits of every text position.

The off-topic flag compares two such figures (a text after a custom system prompt, and after none): a
pointwise mutual information, which says how much the context made the text more likely. It runs in a
llama.cpp context of its own, so generation's context and its cache are left as they are.
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import Any

from tui.engine.errors import SmolgenError

# Room for a system prompt and a user turn; a longer text is scored on its first tokens only.
SCORING_CONTEXT = 1024


class TextScorer:
    """Scores texts with a loaded GGUF's weights (`Model.native()`); safe to share between threads."""

    def __init__(self, model: Any, n_ctx: int = SCORING_CONTEXT):
        self.model = model
        self.n_ctx = n_ctx
        self._lock = threading.Lock()
        self._context: Any = None
        self._batch: Any = None
        self._free: Any = None

    def mean_log_prob(self, context: str, text: str) -> float:
        """The mean natural-log probability of `text`'s tokens after `context` (special tokens parsed)."""
        import llama_cpp
        import numpy as np  # with llama_cpp, which loads it anyway: a command that scores nothing starts without it

        prefix = self.model.tokenize_prompt(context)
        tokens = self.model.tokenize_text(text)
        if not tokens:
            raise SmolgenError("cannot score an empty text")
        room = self.n_ctx - len(prefix)
        if room < 1:
            raise SmolgenError(f"the context to score after is longer than {self.n_ctx} tokens")
        tokens = tokens[:room]
        sequence = prefix + tokens
        with self._lock:
            context, batch = self._opened()
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(context), True)
            for index, token in enumerate(sequence):
                batch.token[index] = token
                batch.pos[index] = index
                batch.n_seq_id[index] = 1
                batch.seq_id[index][0] = 0
                batch.logits[index] = index >= len(prefix) - 1 and index < len(sequence) - 1
            batch.n_tokens = len(sequence)
            status = llama_cpp.llama_decode(context, batch)
            if status != 0:
                raise SmolgenError(f"llama_decode failed (status {status}) while scoring {len(sequence)} tokens")
            vocabulary = llama_cpp.llama_vocab_n_tokens(self.model.native()[1])
            total = 0.0
            for offset, token in enumerate(tokens):
                logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(context, len(prefix) - 1 + offset), shape=(vocabulary,))
                top = float(logits.max())
                total += float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))
        return total / len(tokens)

    def _opened(self) -> tuple[Any, Any]:
        import llama_cpp

        if self._context is None:
            native_model, _vocab = self.model.native()
            params = llama_cpp.llama_context_default_params()
            params.n_ctx = params.n_batch = params.n_ubatch = self.n_ctx
            params.n_threads = params.n_threads_batch = self.model.n_threads
            params.no_perf = True
            context = llama_cpp.llama_init_from_model(native_model, params)
            if not context:
                raise SmolgenError(f"llama.cpp could not make a scoring context of {self.n_ctx} tokens")
            self._context = context
            self._batch = llama_cpp.llama_batch_init(self.n_ctx, 0, 1)
            self._free = weakref.finalize(self, _free, context, self._batch)  # freed with the scorer (and so with its model)
        return self._context, self._batch

    def close(self) -> None:
        """Free the scoring context now (before its model is freed); the next score opens another."""
        with self._lock:
            if self._free is not None:
                self._free()
                self._context = self._batch = self._free = None


def _free(context: Any, batch: Any) -> None:
    import llama_cpp

    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(context)


def context_gain(scorer: TextScorer, context: str, baseline: str, text: str) -> float:
    """How much more likely `text` is after `context` than after `baseline`, per token (nats)."""
    return scorer.mean_log_prob(context, text) - scorer.mean_log_prob(baseline, text)
