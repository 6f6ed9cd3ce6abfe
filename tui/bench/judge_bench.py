"""`smolgen bench judge`: how fast a judge model rates samples, and how often it rates a clearly good answer
above a clearly bad one on hand-made pairs (the planted order). A small model is expected to agree little:
the figure says how far to trust its ratings, and a bigger judge (`--model`, or a server) is the way."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tui.engine.errors import BadInput

# (instruction, a clearly good answer, a clearly bad one): wrong, off-topic or refusing for no reason.
PLANTED_PAIRS = (
    ("What is the capital of France?", "The capital of France is Paris.", "The capital of France is Berlin."),
    ("How many legs does a spider have?", "A spider has eight legs.", "Spiders have six legs, like all insects."),
    ("What is 12 times 3?", "12 times 3 is 36.", "12 times 3 is 15."),
    ("Name the largest planet in the solar system.", "Jupiter is the largest planet in the solar system.",
     "I like pizza with extra cheese."),
    ("Translate 'thank you' into Spanish.", "'Thank you' in Spanish is 'gracias'.", "'Thank you' in Spanish is 'bonjour'."),
    ("What gas do plants absorb from the air for photosynthesis?", "Plants absorb carbon dioxide (CO2) for photosynthesis.",
     "Plants absorb gold from the air."),
    ("Write a one-sentence greeting for a birthday card.", "Happy birthday, and may the year ahead bring you joy!",
     "I cannot help with that request."),
    ("What is the boiling point of water at sea level in Celsius?", "Water boils at 100 degrees Celsius at sea level.",
     "Water boils at 12 degrees Celsius."),
    ("Who wrote 'Romeo and Juliet'?", "William Shakespeare wrote 'Romeo and Juliet'.", "It was written by a famous car company."),
    ("Give one tip for sleeping better.", "Keep a regular bedtime and avoid screens for an hour before sleep.",
     "Drink three cups of strong coffee right before bed."),
    ("What is the opposite of 'hot'?", "The opposite of 'hot' is 'cold'.", "The opposite of 'hot' is 'table'."),
    ("How many days are in a leap year?", "A leap year has 366 days.", "A leap year has 12 days."),
    ("What colour do you get by mixing blue and yellow?", "Mixing blue and yellow gives green.", "Mixing blue and yellow gives a square."),
    ("Summarise in one sentence: 'The cat sat on the mat all day, watching birds.'",
     "A cat spent the whole day on a mat watching birds.", "Stock markets rose sharply on Tuesday."),
    ("What is the square root of 81?", "The square root of 81 is 9.", "The square root of 81 is 40."),
    ("Which ocean is the largest?", "The Pacific Ocean is the largest ocean.", "The largest ocean is the Sahara."),
    ("Suggest a name for a friendly pet dog.", "How about 'Buddy'? It sounds warm and friendly.", "No."),
    ("What does a thermometer measure?", "A thermometer measures temperature.", "A thermometer measures how long a song is."),
    ("Is the sun a star or a planet?", "The sun is a star.", "The sun is a small moon of Mars."),
    ("List three primary colours.", "Red, blue and yellow are the three traditional primary colours.", "Dog, chair, seven."),
)


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench judge`."""
    bench.add_argument("--model", type=Path, metavar="PATH", help="the judge, a GGUF (default: the embedded model)")
    bench.add_argument("--pairs", type=int, default=len(PLANTED_PAIRS), metavar="N",
                       help=f"how many of the {len(PLANTED_PAIRS)} hand-made pairs to judge (default: all)")
    bench.add_argument("--seed", type=int, default=1, metavar="S", help="the judge's seed (default 1)")
    bench.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: the physical cores)")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")


def cmd_bench_judge(args: argparse.Namespace) -> int:
    """Judge both answers of each pair (aspect `overall`, no tags) and count the pairs put in the planted order."""
    from tui.engine.judge import judge
    from tui.engine.model import Model

    if not 1 <= args.pairs <= len(PLANTED_PAIRS):
        raise BadInput(f"bench judge: --pairs {args.pairs}: must be from 1 to {len(PLANTED_PAIRS)}")
    model = Model.load(args.model, n_threads=args.threads)
    agreed = tied = reversed_ = failed = 0
    started = time.perf_counter()
    for number, (instruction, good, bad) in enumerate(PLANTED_PAIRS[: args.pairs]):
        ratings = []
        for answer in (good, bad):
            conversation = [{"role": "user", "content": instruction}, {"role": "assistant", "content": answer}]
            ratings.append(judge(model, conversation, ("overall",), tag=False, seed=args.seed + number).rating)
        if None in ratings:
            failed += 1
        elif ratings[0] > ratings[1]:
            agreed += 1
        elif ratings[0] == ratings[1]:
            tied += 1
        else:
            reversed_ += 1
    seconds = time.perf_counter() - started
    figures = {
        "judge": model.label, "pairs": args.pairs, "agreed": agreed, "tied": tied, "reversed": reversed_, "failed": failed,
        "agreement": round(agreed / args.pairs, 3), "judged_per_minute": round(2 * args.pairs * 60 / seconds, 1),
        "seconds": round(seconds, 1),
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"judge {model.label}, {args.pairs} hand-made pairs (a clearly good answer against a clearly bad one):")
    print(f"  good rated above bad  {agreed} of {args.pairs} ({100 * agreed / args.pairs:.0f}%)")
    print(f"  tied                  {tied}")
    print(f"  bad rated above good  {reversed_}")
    print(f"  a judgement failed    {failed}")
    print(f"  {figures['judged_per_minute']} samples judged a minute ({seconds:.0f} s for {2 * args.pairs})")
    return 0
