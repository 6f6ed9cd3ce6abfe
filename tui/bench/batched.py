"""`smolgen bench batched`: generated tokens/s when S Magpie user turns decode together in one context.

Magpie needs no seed, so S user turns can be written at once. One llama.cpp context holds S sequences
(`n_seq_max`); every step puts one token of each sequence (or, for a sequence starting a turn, its
whole pre-query) into a single `llama_batch` for one `llama_decode`, and each sequence draws its next
token from its own logits with its own sampler (Magpie's user-turn sampling: temperature 1, nothing
cut). A sequence whose turn ends starts a new one from the pre-query at once (its cache cleared with
`llama_memory_seq_rm`), so the batch stays S wide until each sequence has written --tokens tokens.

Only llama.cpp and this loop are timed: no store, no UI, no engine. The figure it answers is how much
a batched Magpie could gain over one sequence at a time on this machine and model.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tui.cli_flags import add_model_flag
from tui.engine.errors import BadInput, ModelFileError, SmolgenError

DEFAULT_SEQUENCES = "1,2,4,8,16"
DEFAULT_TOKENS = 64
# A step gives each unfinished sequence a token or ends its turn; a model that kept ending turns at
# once would loop forever, so the loop stops here whatever happens.
STEP_ALLOWANCE = 4
# llama.cpp file types a copy can be made in (`--quantize`); the embedded model is Q4_1.
QUANTIZE_TYPES = {"q8_0": 7, "q4_0": 2, "f16": 1}


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench batched`."""
    bench.description = (
        "Aggregate generated tokens/s when S sequences share one llama.cpp context and decode in one batch "
        "per step, each with its own sampler, against one sequence alone. Every sequence writes --tokens tokens "
        "(a turn that ends early is followed by a new one). The model load and a warm-up decode are outside the clock."
    )
    add_model_flag(bench)
    bench.add_argument("--sequences", default=DEFAULT_SEQUENCES, metavar="S,S,...",
                       help=f"batch widths to time, in order (default {DEFAULT_SEQUENCES}); S=1 is added when missing, as the baseline")
    bench.add_argument("--tokens", type=int, default=DEFAULT_TOKENS, metavar="N",
                       help=f"tokens each sequence generates (default {DEFAULT_TOKENS}: a user turn or two)")
    bench.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: the physical cores)")
    bench.add_argument("--seed", type=int, default=1234, metavar="S", help="sampling seed; sequence i draws with S+i (default 1234)")
    bench.add_argument("--quantize", choices=sorted(QUANTIZE_TYPES), metavar="TYPE",
                       help=f"first make a {'/'.join(sorted(QUANTIZE_TYPES))} copy of the model in the cache folder "
                       "(kept and reused) and time that; its path is printed for `smolgen bench generation --model`")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


@dataclass
class BatchedFigure:
    """One batch width's run."""

    sequences: int
    generated_tokens: int = 0
    prompt_tokens: int = 0  # pre-query tokens decoded, the first turn's and every new turn's
    turns: int = 0  # user turns ended (by the model, or by the --tokens cap)
    steps: int = 0
    seconds: float = 0.0
    sample_turn: str = field(default="", repr=False)  # sequence 0's first turn: a check that the text is real

    @property
    def tokens_per_second(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds else 0.0


def cmd_bench_batched(args: argparse.Namespace) -> int:
    from tui.engine.model import physical_cores
    from tui.engine.model_file import default_model_path, inspect_model

    sequences = _sequence_list(args.sequences)
    if args.tokens < 1:
        raise BadInput(f"bench batched: --tokens {args.tokens}: must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise BadInput(f"bench batched: --threads {args.threads}: must be at least 1")
    threads = args.threads or physical_cores()
    info = inspect_model(args.model or default_model_path())
    path = info.path
    if args.quantize:
        path = quantized_copy(info, args.quantize, threads)
        if not args.json:
            print(f"{args.quantize.upper()} copy of {info.path.name} ({info.quantization}): {path}")
    if path != info.path:
        info = inspect_model(path)  # the copy is timed, and reported
    figures = measure_batched(info, sequences, args.tokens, threads, args.seed)
    report = _report(info, figures, args, threads)
    print(json.dumps(report) if args.json else _render(report))
    return 0


def _sequence_list(text: str) -> list[int]:
    try:
        sequences = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BadInput(f"bench batched: --sequences {text!r}: give whole numbers separated by commas, e.g. 1,2,4") from None
    if not sequences or min(sequences) < 1:
        raise BadInput(f"bench batched: --sequences {text!r}: every width must be at least 1")
    return list(dict.fromkeys([1, *sequences]))  # S=1 first: the baseline every ratio divides by


def cache_folder() -> Path:
    """Where made model copies are kept: $XDG_CACHE_HOME/smolgen/models (~/.cache by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "smolgen" / "models"


def quantized_copy(info: Any, kind: str, threads: int) -> Path:
    """A copy of the model in another llama.cpp file type, made once with `llama_model_quantize`.

    The copy is named after the source's content fingerprint, so a changed source gets a new one.
    From a Q4_1 source a Q8_0 or F16 copy has Q8_0's or F16's size and speed but not their quality:
    the weights were already rounded to 4 bits.
    """
    import llama_cpp

    from tui.engine.model import route_llama_logs

    if info.quantization.lower() == kind:
        raise BadInput(f"bench batched: {info.path.name} is already {info.quantization}; choose another --quantize type")
    folder = cache_folder()
    target = folder / f"{info.path.stem}.{info.fingerprint}.{kind.upper()}.gguf"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    route_llama_logs()  # llama.cpp lists every tensor it converts
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = QUANTIZE_TYPES[kind]
    params.allow_requantize = True  # the source's tensors are quantized already
    partial = target.with_name(target.name + ".partial")  # renamed once whole: no half-written copy is ever reused
    try:
        failed = llama_cpp.llama_model_quantize(str(info.path).encode(), str(partial).encode(), ctypes.byref(params))
        if failed:
            raise SmolgenError(f"bench batched: llama.cpp could not make a {kind} copy of {info.path.name} (error {failed})")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def measure_batched(info: Any, sequences: list[int], tokens: int, threads: int, seed: int) -> list[BatchedFigure]:
    """Load the model once, then time each batch width in a fresh context of its own."""
    import llama_cpp

    from tui.engine.chat_template import ChatTemplate
    from tui.engine.batched_model import max_parallel
    from tui.engine.model import route_llama_logs

    model_path = info.path
    if not info.chat_template:
        raise BadInput(f"bench batched: {info.path.name} has no chat template, so it has no Magpie pre-query")
    pre_query = ChatTemplate(info.chat_template, info.bos_token, info.eos_token, origin=info.path.name).pre_query([])
    widest = max_parallel()
    if max(sequences) > widest:
        raise BadInput(f"bench batched: --sequences {max(sequences)}: this llama.cpp holds at most {widest} sequences")
    route_llama_logs()
    llama_cpp.llama_backend_init()
    model = llama_cpp.llama_model_load_from_file(str(model_path).encode(), llama_cpp.llama_model_default_params())
    if not model:
        raise ModelFileError(f"{model_path}: llama.cpp cannot load this model")
    try:
        vocab = llama_cpp.llama_model_get_vocab(model)
        add_bos = not (info.bos_token and pre_query.startswith(info.bos_token))
        prompt = _tokenize(vocab, pre_query, add_bos)
        return [_decode_together(model, vocab, prompt, width, tokens, threads, seed) for width in sequences]
    finally:
        llama_cpp.llama_model_free(model)


def _tokenize(vocab: Any, text: str, add_special: bool) -> list[int]:
    import llama_cpp

    data = text.encode("utf-8")
    buffer = (llama_cpp.llama_token * (len(data) + 8))()
    count = llama_cpp.llama_tokenize(vocab, data, len(data), buffer, len(buffer), add_special, True)
    if count < 0:
        raise SmolgenError(f"bench batched: the pre-query did not tokenize ({count})")
    return list(buffer[:count])


def _detokenize(vocab: Any, tokens: list[int]) -> str:
    import llama_cpp

    piece = ctypes.create_string_buffer(256)
    parts = []
    for token in tokens:
        size = llama_cpp.llama_token_to_piece(vocab, token, piece, len(piece), 0, False)
        parts.append(piece.raw[: max(size, 0)])
    return b"".join(parts).decode("utf-8", errors="replace")


def _decode_together(model: Any, vocab: Any, prompt: list[int], width: int, tokens: int, threads: int, seed: int) -> BatchedFigure:
    """S sequences in one context until each has generated `tokens` tokens; context, batch and samplers freed after."""
    import llama_cpp

    per_sequence = len(prompt) + tokens + 1
    capacity = width * len(prompt)  # the widest step: every sequence starting a turn at once
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = width * per_sequence
    params.n_batch = max(capacity, 512)
    params.n_ubatch = max(capacity, 512)
    params.n_seq_max = width
    params.n_threads = params.n_threads_batch = threads
    params.kv_unified = False  # the sequences share only a short pre-query; separate caches attend less
    params.no_perf = True
    context = batch = None
    samplers: list[Any] = []
    try:
        context = llama_cpp.llama_init_from_model(model, params)
        if not context:
            raise SmolgenError(f"bench batched: llama.cpp could not make a context for {width} sequences")
        batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        memory = llama_cpp.llama_get_memory(context)
        for index in range(width):
            chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
            samplers.append(chain)  # freed in `finally` even if a link below fails
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(1.0))
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed + index))
        # Warm-up: the first decode of a context allocates its compute buffers; keep that off the clock.
        _fill(batch, [(0, prompt, 0)])
        _decode(context, batch, width)
        llama_cpp.llama_memory_clear(memory, True)
        return _generate(context, memory, batch, samplers, vocab, prompt, width, tokens)
    finally:
        for chain in samplers:
            llama_cpp.llama_sampler_free(chain)
        if batch is not None:
            llama_cpp.llama_batch_free(batch)
        if context:
            llama_cpp.llama_free(context)


def _generate(context: Any, memory: Any, batch: Any, samplers: list[Any], vocab: Any, prompt: list[int], width: int, tokens: int) -> BatchedFigure:
    import llama_cpp

    figure = BatchedFigure(width)
    feed = {sequence: list(prompt) for sequence in range(width)}  # what each sequence decodes next
    position = dict.fromkeys(range(width), 0)
    generated = dict.fromkeys(range(width), 0)
    first_turn: list[int] | None = []
    started = time.perf_counter()
    while feed:
        if figure.steps >= STEP_ALLOWANCE * tokens + 16:
            raise SmolgenError(
                f"bench batched: S={width} stopped after {figure.steps} steps with {len(feed)} sequences unfinished "
                "(the model keeps ending its turn at once)"
            )
        figure.steps += 1
        figure.prompt_tokens += sum(len(pending) for sequence, pending in feed.items() if position[sequence] == 0)
        outputs = _fill(batch, [(sequence, pending, position[sequence]) for sequence, pending in feed.items()])
        _decode(context, batch, width)
        for sequence, output in outputs.items():
            position[sequence] += len(feed[sequence])
            token = llama_cpp.llama_sampler_sample(samplers[sequence], context, output)
            ended = llama_cpp.llama_vocab_is_eog(vocab, token)
            if not ended:
                generated[sequence] += 1
                figure.generated_tokens += 1
                if sequence == 0 and first_turn is not None:
                    first_turn.append(token)
            if ended or generated[sequence] >= tokens:
                figure.turns += 1
                if sequence == 0 and first_turn is not None:
                    figure.sample_turn, first_turn = _detokenize(vocab, first_turn), None
            if generated[sequence] >= tokens:
                del feed[sequence]
            elif ended:  # a new user turn in the same slot, from the pre-query
                llama_cpp.llama_memory_seq_rm(memory, sequence, -1, -1)
                position[sequence] = 0
                feed[sequence] = list(prompt)
            else:
                feed[sequence] = [token]
    figure.seconds = time.perf_counter() - started
    return figure


def _fill(batch: Any, rows: list[tuple[int, list[int], int]]) -> dict[int, int]:
    """Put each (sequence, tokens, first position) into the batch; logits only for each one's last
    token. Returns the batch index of every sequence's output."""
    count = 0
    outputs = {}
    for sequence, pending, start in rows:
        for offset, token in enumerate(pending):
            batch.token[count] = token
            batch.pos[count] = start + offset
            batch.n_seq_id[count] = 1
            batch.seq_id[count][0] = sequence
            batch.logits[count] = offset == len(pending) - 1
            count += 1
        outputs[sequence] = count - 1
    batch.n_tokens = count
    return outputs


def _decode(context: Any, batch: Any, width: int) -> None:
    import llama_cpp

    status = llama_cpp.llama_decode(context, batch)
    if status != 0:  # 1: no room in the cache, 2: aborted, < 0: an error; none of them is worth retrying here
        raise SmolgenError(f"bench batched: llama_decode failed for S={width} (status {status})")


def _report(info: Any, figures: list[BatchedFigure], args: argparse.Namespace, threads: int) -> dict[str, Any]:
    baseline = figures[0].tokens_per_second
    rows = []
    for figure in figures:
        row = {key: value for key, value in asdict(figure).items() if key != "sample_turn"}
        row.update(
            seconds=round(figure.seconds, 4),
            tokens_per_second=round(figure.tokens_per_second, 2),
            per_sequence_tokens_per_second=round(figure.tokens_per_second / figure.sequences, 2),
            vs_one=round(figure.tokens_per_second / baseline, 3) if baseline else None,
            sample_turn=figure.sample_turn,
        )
        rows.append(row)
    return {
        "model": str(info.path),
        "quantization": info.quantization,
        "size_mb": round(info.size_bytes / 1e6, 1),
        "threads": threads,
        "tokens_per_sequence": args.tokens,
        "results": rows,
    }


def _render(report: dict[str, Any]) -> str:
    lines = [
        f"model {Path(report['model']).name} ({report['quantization']}, {report['size_mb']:.0f} MB) · {report['threads']} threads · "
        f"{report['tokens_per_sequence']} tokens per sequence",
        f"{'S':>4}{'tokens':>8}{'seconds':>9}{'tok/s':>9}{'per seq':>9}{'vs S=1':>8}{'turns':>7}{'steps':>7}",
    ]
    for row in report["results"]:
        vs_one = f"{row['vs_one']:>8.2f}" if row["vs_one"] is not None else f"{'n/a':>8}"
        lines.append(
            f"{row['sequences']:>4}{row['generated_tokens']:>8}{row['seconds']:>9.2f}{row['tokens_per_second']:>9.1f}"
            f"{row['per_sequence_tokens_per_second']:>9.1f}{vs_one}{row['turns']:>7}{row['steps']:>7}"
        )
    lines.append(f"sequence 0's first user turn at S={report['results'][-1]['sequences']}: {report['results'][-1]['sample_turn'][:100]!r}")
    return "\n".join(lines)
