"""`smolgen bench models`: how long listing a folder of many GGUF files takes, the first time (every header
read) and again (the header cache), against reading each header whole as opening a model does."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tui.engine.errors import BadInput

_WHOLE_SAMPLE = 10  # reading every header whole would take most of a minute


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench models`."""
    bench.add_argument("--files", type=int, default=200, metavar="N", help="GGUF files in the folder listed (default 200)")


def cmd_bench_models(args: argparse.Namespace) -> int:
    """List --files sparse copies of the embedded model (its header, then a hole as long as its tensors)."""
    from tui.engine.gguf_header import read_header
    from tui.engine.model_catalog import ModelFolder, find_models
    from tui.engine.model_file import default_model_path

    if args.files < 1:
        raise BadInput(f"bench models: --files {args.files}: must be at least 1")
    source = default_model_path()
    header = read_header(source, vocabulary=False)
    head, size = source.read_bytes()[: header.data_start], source.stat().st_size
    with tempfile.TemporaryDirectory(prefix="smolgen-bench-models-") as folder:
        root = Path(folder)
        (root / "models").mkdir()
        for index in range(args.files):
            with open(root / "models" / f"model-{index:04}.gguf", "wb") as copy:
                copy.write(head)
                copy.truncate(size)  # sparse: whole to the reader, no disk used for the tensors
        folders, cache = [ModelFolder("config", root / "models")], root / "model-headers.json"
        paths = sorted((root / "models").glob("*.gguf"))
        # A listing reads a little past a header (its buffer grows by doubling), here into the hole, which
        # the system's first read turns into fresh pages; a real file has tensors there, read like any
        # data, so that first read is made and timed apart.
        settled = _timed(lambda: [_read_head(path, 2 * len(head)) for path in paths])
        first = _timed(lambda: find_models(folders, cache))
        again = _timed(lambda: find_models(folders, cache))
        sample = paths[:_WHOLE_SAMPLE]
        whole = _timed(lambda: [read_header(path) for path in sample])
    usable = sum(model.usable for model in first[2])
    tokens = len(whole[2][0].metadata["tokenizer.ggml.tokens"])
    print(f"listing {args.files} GGUF files ({source.name}'s header, {len(head) / 1e6:.1f} MB each, "
          f"a vocabulary of {tokens:,} tokens), {usable} usable:")
    print(f"  the system's first read of each file's first {2 * len(head) / 1e6:.1f} MB (not timed below)  {settled[0]:.2f} s")
    print(f"  first listing (every header read, vocabulary stepped over)  {first[0]:.2f} s ({first[1]:.2f} s of CPU)")
    print(f"  listing again (header cache)                                 {again[0]:.3f} s")
    print(f"  a header read whole, vocabulary decoded (as opening a model does; {len(sample)} timed)  "
          f"{whole[0] / len(sample) * 1000:.0f} ms a file")
    print(f"  the first listing: {first[0] / args.files * 1000:.0f} ms a file")
    return 0


def _read_head(path: Path, size: int) -> None:
    with open(path, "rb") as handle:
        handle.read(size)


def _timed(action):
    """Wall seconds, CPU seconds (what a busy machine leaves out of the first) and the result of `action`."""
    start, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - start, time.process_time() - cpu, result
