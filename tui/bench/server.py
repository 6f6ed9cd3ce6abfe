"""`smolgen bench server`: smolgen against OpenAI-compatible servers.

- llama: Magpie against llama.cpp's llama-server with the embedded model at several concurrencies,
  beside a bare async httpx loop sending the same requests, and the in-process engine.
- ceiling: smolgen's own ceiling against the canned stub server (no model): samples per second with
  every sample durable in the store, peak memory per concurrency, a large run that must balance
  (requested = stored + failed) and the time to open its store afterwards.
- app: the whole app (headless) against the stub: samples per second, and how long a keypress takes to
  reach its handler meanwhile (tui/bench/server_app.py).
- cancel: how soon a run whose server stopped answering ends once cancelled, in the engine and by
  Ctrl-C in `smolgen generate` (tui/bench/server_cancel.py).
Each `smolgen generate` of the ceiling part is a fresh process, so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator

from tui.cli_flags import add_model_flag


PARTS = ("llama", "ceiling", "app", "cancel")
# Rounds of the llama part: odd, so a median is one round's ratio; enough that a round or two the shared machine slowed do not move it.
DEFAULT_ROUNDS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", default=",".join(PARTS), metavar="P,P", help=f"which parts: {', '.join(PARTS)} (default all)")
    parser.add_argument("--concurrency", default="1,2,4,8", metavar="N,N", help="llama part: concurrencies (default 1,2,4,8)")
    parser.add_argument("--samples", type=int, default=32, metavar="N", help="llama part: Magpie samples per variant (default 32)")
    parser.add_argument("--max-tokens", type=int, default=48, metavar="N", help="llama part: cap of each turn (default 48)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, metavar="N",
                        help=f"llama part: rounds at each concurrency, the order swapped each round; a ratio is their median (default {DEFAULT_ROUNDS})")
    parser.add_argument("--ceiling-concurrency", default="1,64,256", metavar="N,N", help="ceiling part: concurrencies (default 1,64,256)")
    parser.add_argument("--ceiling-samples", type=int, default=2000, metavar="N", help="ceiling part: samples per run (default 2000)")
    parser.add_argument("--balance-samples", type=int, default=10_000, metavar="N", help="ceiling part: the large run (default 10000)")
    parser.add_argument("--app-concurrency", type=int, default=64, metavar="N", help="app part: rows in flight (default 64)")
    parser.add_argument("--app-samples", type=int, default=3000, metavar="N", help="app part: samples of its run (default 3000)")
    parser.add_argument("--cancel-repeats", type=int, default=5, metavar="N", help="cancel part: cancels timed each way (default 5)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    add_model_flag(parser)


def cmd_bench_server(args: argparse.Namespace) -> int:
    from tui.engine.errors import BadInput

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise BadInput(f"--parts {args.parts}: unknown part {unknown[0]!r} (known: {', '.join(PARTS)})")
    figures: dict[str, Any] = {}
    if "llama" in parts:
        for flag, value in (("--rounds", args.rounds), ("--samples", args.samples)):
            if value < 1:
                raise BadInput(f"{flag} {value}: must be at least 1")
        figures["llama"] = llama_part(args.model, _numbers("--concurrency", args.concurrency), args.samples, args.max_tokens,
                                      args.rounds)
    if "ceiling" in parts:
        figures["ceiling"] = ceiling_part(_numbers("--ceiling-concurrency", args.ceiling_concurrency), args.ceiling_samples,
                                          args.balance_samples)
    if "app" in parts:
        from tui.bench.server_app import app_part

        if args.app_concurrency < 1 or args.app_samples < 1:
            raise BadInput("--app-concurrency and --app-samples: each must be at least 1")
        with stub_process() as url:
            figures["app"] = app_part(url, args.app_concurrency, args.app_samples)
    if "cancel" in parts:
        from tui.bench.server_cancel import cancel_part

        if args.cancel_repeats < 1:
            raise BadInput(f"--cancel-repeats {args.cancel_repeats}: must be at least 1")
        figures["cancel"] = cancel_part(args.cancel_repeats)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    return 0


def _numbers(flag: str, text: str) -> list[int]:
    from tui.engine.errors import BadInput

    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BadInput(f"{flag} {text}: expected whole numbers separated by commas") from None
    if not values or min(values) < 1:
        raise BadInput(f"{flag} {text}: each must be at least 1")
    return values


# The llama-server part ---------------------------------------------------------------------------


def _magpie(max_tokens: int) -> Any:
    from tui.engine.model import Sampling
    from tui.engine.quality_gates import QualityGates
    from tui.engine.techniques.magpie import Magpie, MagpieSettings

    # Ungated: the bare client answers every user turn, so smolgen does the same work.
    settings = MagpieSettings(gates=QualityGates.all_off(), check_user_turn_cap=False)
    settings.user_sampling = Sampling(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, max_tokens=max_tokens)
    settings.assistant_sampling = Sampling(max_tokens=max_tokens)
    return Magpie(settings)


def llama_part(model_path: Path | None, concurrencies: list[int], samples: int, max_tokens: int,
               rounds: int = DEFAULT_ROUNDS) -> dict[str, Any]:
    """Aggregate tok/s and samples/min of smolgen and a bare client at each concurrency, and the engine's.

    A shared machine's speed drifts by more than the difference measured, so each concurrency runs
    `rounds` rounds, a smolgen run right beside a bare run, the order swapped from round to round; a
    ratio is the median of the rounds' ratios. At the local server's slots the in-process engine
    runs in every round too (its model loaded once), right beside the smolgen run it is compared with."""
    from tui.engine.server.connect import connect
    from tui.engine.server.local import DEFAULT_SLOTS, LocalServer
    from tui.engine.server.settings import ServerSettings

    run_seed = 4242
    rows: dict[str, Any] = {}
    engine, load_seconds = _engine(model_path)
    engine_runs: list[dict[str, float]] = []
    served_runs: list[dict[str, float]] = []
    started = time.perf_counter()
    with LocalServer(model_path, slots=max(concurrencies), context_per_slot=1024) as server:
        connect(ServerSettings([server.url])).close()
        server_start = time.perf_counter() - started
        # Untimed: a first request pays for warming caches that every later run finds warm.
        _bare_run(server.url, max(concurrencies), max(concurrencies), max_tokens, run_seed + 1)
        _engine_run(engine, 1, max_tokens, run_seed + 1)
        for concurrency in concurrencies:
            runs = {"bare": lambda: _bare_run(server.url, concurrency, samples, max_tokens, run_seed),
                    "smolgen": lambda: _smolgen_run(server.url, concurrency, samples, max_tokens, run_seed)}
            if concurrency == DEFAULT_SLOTS:
                runs["engine"] = lambda: _engine_run(engine, samples, max_tokens, run_seed)
            done: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
            for round_number in range(rounds):
                for name in round_order(list(runs), round_number):
                    done[name].append(runs[name]())
            ours, bare = done["smolgen"], done["bare"]
            if concurrency == DEFAULT_SLOTS:
                served_runs, engine_runs = ours, done["engine"]
            rows[str(concurrency)] = {"smolgen": _added(*ours), "bare": _added(*bare),
                                      "smolgen_vs_bare": _median_ratio(ours, bare),
                                      "smolgen_vs_bare_by_round": [_ratio(a, b) for a, b in zip(ours, bare)]}
    if not engine_runs:  # the slots' concurrency was not asked for: the engine runs once, after the servers
        engine_runs.append(_engine_run(engine, samples, max_tokens, run_seed))
    engine_figures = {**_added(*engine_runs), "load_seconds": round(load_seconds, 3)}
    served = _added(*served_runs) if served_runs else None
    return {
        "samples": samples,
        "max_tokens": max_tokens,
        "rounds": rounds,
        "by_concurrency": rows,
        "engine": engine_figures,
        "smolgen_at_4_vs_engine": _median_ratio(served_runs, engine_runs) if served_runs else None,
        "smolgen_at_4_vs_engine_by_round": [_ratio(a, b) for a, b in zip(served_runs, engine_runs)],
        "local_server_start_seconds": round(server_start, 2),
        "local_server_pays_from_samples": _break_even(server_start, engine_figures, served),
    }


def round_order(names: list[str], round_number: int) -> list[str]:
    """The order of one round's runs: smolgen in the middle, so that every run it is compared with runs
    right beside it (the machine's speed drifts over a minute), and the order reversed every other round."""
    others = [name for name in names if name != "smolgen"]
    order = [others[0], "smolgen", *others[1:]]
    return order if round_number % 2 == 0 else order[::-1]


def _median_ratio(ours: list[dict[str, float]], theirs: list[dict[str, float]]) -> float:
    return round(statistics.median(_ratio(a, b) for a, b in zip(ours, theirs)), 3)


def _added(*runs: dict[str, float]) -> dict[str, float]:
    tokens, samples, seconds = (sum(run[key] for run in runs) for key in ("tokens", "samples", "seconds"))
    return _figures(tokens, samples, seconds)


def _break_even(server_start: float, engine: dict[str, float], served: dict[str, float] | None) -> int | None:
    """The samples from which starting a local server and running its slots beats the in-process engine."""
    if not served:
        return None
    engine_each = engine["seconds"] / engine["samples"]
    served_each = served["seconds"] / served["samples"]
    if served_each >= engine_each:
        return None  # the server never catches up on this machine
    return max(1, math.ceil((server_start - engine["load_seconds"]) / (engine_each - served_each)))


def _ratio(a: dict[str, float], b: dict[str, float]) -> float:
    return round(a["tokens_per_second"] / b["tokens_per_second"], 3) if b["tokens_per_second"] else 0.0


def _figures(tokens: int, samples: int, seconds: float) -> dict[str, float]:
    return {"tokens_per_second": round(tokens / seconds, 2), "samples_per_minute": round(samples / seconds * 60, 1),
            "seconds": round(seconds, 3), "tokens": tokens, "samples": samples}


def _smolgen_run(url: str, concurrency: int, samples: int, max_tokens: int, run_seed: int) -> dict[str, float]:
    from tui.engine.prompts import PromptLibrary
    from tui.engine.runner import run_generation
    from tui.engine.server.connect import connect
    from tui.engine.server.settings import ServerSettings
    from tui.engine.store import SampleStore

    model = connect(ServerSettings([url], concurrency=concurrency))
    try:
        with tempfile.TemporaryDirectory() as folder, SampleStore(Path(folder) / "bench.json") as store:
            started = time.perf_counter()
            summary = run_generation(_magpie(max_tokens), store, model, PromptLibrary(), samples, run_seed, parallel=concurrency)
            seconds = time.perf_counter() - started
    finally:
        model.close()
    return _figures(summary.completion_tokens, summary.stored + summary.failed, seconds)


def _bare_run(url: str, concurrency: int, samples: int, max_tokens: int, run_seed: int) -> dict[str, float]:
    """The same Magpie requests (pre-query, then the rendered chat) from a plain asyncio loop with httpx."""
    import httpx

    from tui.engine.chat_template import ChatTemplate
    from tui.engine.model import derive_seed
    from tui.engine.server.server_model import request_sampling

    props = httpx.get(url.removesuffix("/v1") + "/props").json()
    template = ChatTemplate(props["chat_template"], props.get("bos_token", ""), props.get("eos_token", ""))
    stops = [s for s in (template.end_of_turn(), template.eos_token) if s]
    magpie = _magpie(max_tokens).settings
    name = httpx.get(url + "/models").json()["data"][0]["id"]

    async def one(client: httpx.AsyncClient, index: int) -> int:
        body = {"model": name, "prompt": template.pre_query([]), "stop": stops,
                **request_sampling(magpie.user_sampling, derive_seed(run_seed, index, 0))}
        asked = (await client.post(url + "/completions", json=body)).json()
        question = asked["choices"][0]["text"].strip()
        prompt = template.render([{"role": "user", "content": question}], add_generation_prompt=True)
        body = {"model": name, "prompt": prompt, "stop": stops, **request_sampling(magpie.assistant_sampling, derive_seed(run_seed, index, 1))}
        answered = (await client.post(url + "/completions", json=body)).json()
        return asked["usage"]["completion_tokens"] + answered["usage"]["completion_tokens"]

    async def run() -> tuple[int, float]:
        queue = list(range(samples))
        tokens = 0
        async with httpx.AsyncClient(timeout=600) as client:
            async def worker() -> None:
                nonlocal tokens
                while queue:
                    got = await one(client, queue.pop(0))  # awaited first: `tokens += await …` would read tokens before the wait
                    tokens += got
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return tokens, time.perf_counter() - started

    tokens, seconds = asyncio.run(run())
    return _figures(tokens, samples, seconds)


def _engine(model_path: Path | None) -> tuple[Any, float]:
    """The in-process model, loaded once for every engine run, and the seconds its load took."""
    from tui.engine.model import Model, physical_cores

    loading = time.perf_counter()
    # The server's thread count, fixed: left to follow the free cores, the engine would give one up while
    # the window it watches still holds the server's last seconds.
    model = Model.load(model_path, n_ctx=2048, n_threads=physical_cores())
    return model, time.perf_counter() - loading


def _engine_run(model: Any, samples: int, max_tokens: int, run_seed: int) -> dict[str, float]:
    from tui.engine.prompts import PromptLibrary
    from tui.engine.runner import run_generation
    from tui.engine.store import SampleStore

    with tempfile.TemporaryDirectory() as folder, SampleStore(Path(folder) / "bench.json") as store:
        started = time.perf_counter()
        summary = run_generation(_magpie(max_tokens), store, model, PromptLibrary(), samples, run_seed)
        seconds = time.perf_counter() - started
    return _figures(summary.completion_tokens, summary.stored + summary.failed, seconds)


# The ceiling part ---------------------------------------------------------------------------------


def ceiling_part(concurrencies: list[int], samples: int, balance_samples: int) -> dict[str, Any]:
    """smolgen's own rate against the canned stub: samples/s, peak memory, a large run that balances."""
    with stub_process() as url:
        runs = {str(c): _cli_run(url, c, samples) for c in concurrencies}
        balance = _cli_run(url, max(concurrencies), balance_samples, open_store=True)
    lowest, highest = str(min(concurrencies)), str(max(concurrencies))
    return {
        "samples": samples,
        "by_concurrency": runs,
        "peak_memory_ratio": round(runs[highest]["peak_rss_mb"] / runs[lowest]["peak_rss_mb"], 2),
        "balance": balance,
    }


@contextmanager
def stub_process() -> Iterator[str]:
    """The canned stub server in a process of its own (so it does not share smolgen's GIL); its base URL."""
    from tui.engine.server.local import free_port

    port = free_port()
    stub = subprocess.Popen([sys.executable, "-m", "tui.bench.stub_server", "--port", str(port)])
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_for(url)
        yield url
    finally:
        stub.terminate()
        stub.wait(10)


def _wait_for(url: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/models", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the stub server at {url} did not start")
        time.sleep(0.1)


def _cli_run(url: str, concurrency: int, samples: int, open_store: bool = False) -> dict[str, Any]:
    """`smolgen generate magpie` against the stub in a fresh process: its rate from the run record, its peak memory."""
    from tui.engine.store import SampleStore

    with tempfile.TemporaryDirectory() as folder:
        store_path = Path(folder) / "bench.json"
        command = [sys.executable, "-m", "tui", "generate", "magpie", "--server", url, "--num", str(samples),
                   "--concurrency", str(concurrency), "--quiet", "--seed", "7", "--store", str(store_path)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        started = time.perf_counter()
        with SampleStore(store_path) as store:
            opened = time.perf_counter() - started
            run = store.list_runs()[-1]
            kept = len(store.list_samples(statuses=("new", "failed")))
    summary = run["summary"]
    figures = {
        "exit": process.returncode,
        "samples_per_second": round((summary["stored"] + summary["failed"]) / summary["wall_seconds"], 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "requested": run["num"],
        "stored": summary["stored"],
        "failed": summary["failed"],
        "balances": run["num"] == summary["stored"] + summary["failed"] == kept,
    }
    if open_store:
        figures["store_open_seconds"] = round(opened, 3)
    return figures


def _print(figures: dict[str, Any]) -> None:
    llama = figures.get("llama")
    if llama:
        print(f"Magpie against llama-server ({llama['samples']} samples a run, caps {llama['max_tokens']} tokens a turn, "
              f"{llama['rounds']} rounds; a ratio is the median of the rounds'):")
        print(f"  {'in flight':>9}  {'smolgen tok/s':>13}  {'bare tok/s':>10}  {'ratio':>6}  {'smolgen samples/min':>19}  ratio by round")
        for concurrency, row in llama["by_concurrency"].items():
            print(f"  {concurrency:>9}  {row['smolgen']['tokens_per_second']:>13}  {row['bare']['tokens_per_second']:>10}  "
                  f"{row['smolgen_vs_bare']:>6}  {row['smolgen']['samples_per_minute']:>19}  "
                  f"{', '.join(map(str, row['smolgen_vs_bare_by_round']))}")
        by_round = ", ".join(map(str, llama["smolgen_at_4_vs_engine_by_round"]))
        print(f"  in-process engine: {llama['engine']['tokens_per_second']} tok/s; "
              f"smolgen at 4 in flight / engine: {llama['smolgen_at_4_vs_engine']}" + (f" (by round: {by_round})" if by_round else ""))
        pays_from = llama["local_server_pays_from_samples"]
        pays = f"pays from {pays_from} samples on" if pays_from else "did not pay in this run (a sample took as long as in-process)"
        print(f"  a local llama-server starts in {llama['local_server_start_seconds']} s and {pays} (against loading the model in-process)")
    ceiling = figures.get("ceiling")
    if ceiling:
        print(f"Against the canned stub server ({ceiling['samples']} samples a run, each durable in the store):")
        for concurrency, row in ceiling["by_concurrency"].items():
            print(f"  {concurrency:>4} in flight: {row['samples_per_second']:>7} samples/s, peak {row['peak_rss_mb']} MB, "
                  f"balances {row['balances']}")
        print(f"  peak memory, highest/lowest concurrency: {ceiling['peak_memory_ratio']}")
        balance = ceiling["balance"]
        print(f"  {balance['requested']} samples: {balance['stored']} stored + {balance['failed']} failed, balances "
              f"{balance['balances']}; store opens in {balance['store_open_seconds']} s")
    app = figures.get("app")
    if app:
        print(f"The app against the stub ({app['requested']} samples, {app['concurrency']} in flight): "
              f"{app['samples_per_second']} samples/s; a keypress reached its handler in {app['keypress_ms_median']} ms "
              f"(median of {app['keypresses']}), p95 {app['keypress_ms_p95']} ms, max {app['keypress_ms_max']} ms")
    cancel = figures.get("cancel")
    if cancel:
        print(f"Cancelling a run with {cancel['in_flight']} requests hanging ({cancel['repeats']} times each): the engine ends "
              f"in {cancel['engine_seconds_median']} s (max {cancel['engine_seconds_max']}); smolgen generate after Ctrl-C "
              f"in {cancel['cli_seconds_median']} s (max {cancel['cli_seconds_max']}), each run recorded as cancelled: "
              f"{cancel['cli_runs_recorded_cancelled']}")
