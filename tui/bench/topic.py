"""`smolgen bench topic`: how well the off_topic flag tells a user turn in a custom system prompt's domain
from one outside it, on hand-made questions (three English domains, two Vietnamese ones). For each
question it prints the gain the flag reads (quality_gates.topic_gain, against the plain prompt of the
language), then per language the chance that an on-topic question gains more than an off-topic one
(the ROC AUC) and the shares flagged at the threshold in use."""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

# Each domain: its system prompt and questions in it; the other domains' questions of the same language
# and the general ones are its off-topic questions.
DOMAINS = {
    "math": ("en", "You are an AI assistant who helps users solve math problems.", (
        "What is the derivative of x squared?", "Solve 3x + 5 = 20 for x.", "How do I compute the area of a circle with radius 4?",
        "What is 15% of 240?", "Explain how to factor a quadratic equation.", "If a train travels 60 km in 45 minutes, what is its speed?",
        "What is the sum of the angles in a triangle?", "How many ways can I arrange 5 books on a shelf?")),
    "cooking": ("en", "You are a cooking assistant who helps users with recipes and kitchen techniques.", (
        "How long should I boil an egg for a soft yolk?", "What can I use instead of buttermilk in pancakes?",
        "How do I keep pasta from sticking?", "Give me a simple recipe for tomato soup.", "Why did my bread not rise?",
        "How do I sear a steak properly?", "What spices go well with roasted carrots?", "How do I make a roux for gravy?")),
    "python": ("en", "You are a programming assistant who helps users write and debug Python code.", (
        "How do I reverse a list in Python?", "Why does my loop raise an IndexError?",
        "Write a function that checks if a string is a palindrome.", "What is the difference between a tuple and a list?",
        "How do I read a CSV file with pandas?", "Explain what a decorator does.", "How can I sort a dictionary by its values?",
        "What does the yield keyword do?")),
    "toán": ("vi", "Bạn là trợ lý AI giúp người dùng giải các bài toán.", (
        "Đạo hàm của x bình phương là gì?", "Giải phương trình 3x + 5 = 20.", "Diện tích hình tròn bán kính 4 là bao nhiêu?",
        "15% của 240 là bao nhiêu?", "Làm sao để phân tích đa thức bậc hai thành nhân tử?", "Tổng các góc trong một tam giác bằng bao nhiêu?")),
    "nấu ăn": ("vi", "Bạn là trợ lý nấu ăn giúp người dùng với công thức và kỹ thuật bếp.", (
        "Luộc trứng lòng đào mất bao lâu?", "Làm sao để mì không bị dính?", "Hãy cho tôi công thức nấu canh chua đơn giản.",
        "Tại sao bánh mì của tôi không nở?", "Nên ướp thịt bò với gia vị gì?", "Làm sao để chiên cá không bị vỡ?")),
}
GENERAL = {
    "en": ("What is the capital of France?", "Write a poem about the sea.", "Who won the 2010 World Cup?",
           "Give me tips for a job interview.", "What are the symptoms of the flu?", "How do I change a car tire?"),
    "vi": ("Thủ đô của Pháp là gì?", "Hãy viết một bài thơ về biển.", "Cho tôi lời khuyên khi đi phỏng vấn xin việc.",
           "Triệu chứng của cúm là gì?"),
}
# Vietnamese has no plain prompt in quality_gates (it is not judged); this one measures why.
PLAIN_VI = "Bạn là một trợ lý AI hữu ích."


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench topic`."""
    bench.add_argument("--model", type=Path, metavar="PATH", help="a GGUF to score with (default: the embedded model)")
    bench.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: the physical cores)")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")


def cmd_bench_topic(args: argparse.Namespace) -> int:
    """Score every question against each domain of its language and report the separation."""
    from tui.engine.model import Model
    from tui.engine.quality_gates import OFF_TOPIC_BELOW, PLAIN_SYSTEM_PROMPTS
    from tui.engine.text_likelihood import context_gain

    model = Model.load(args.model, n_threads=args.threads)
    template, scorer = model.chat_template, model.text_scorer()
    plain = {**PLAIN_SYSTEM_PROMPTS, "vi": PLAIN_VI}

    def opening(system: str) -> str:
        return template.pre_query([{"role": "system", "content": system}])

    gains: list[dict[str, Any]] = []
    for domain, (language, system, questions) in DOMAINS.items():
        others = [q for name, (lang, _s, qs) in DOMAINS.items() if name != domain and lang == language for q in qs]
        for on_topic, group in ((True, questions), (False, [*others, *GENERAL[language]])):
            for question in group:
                gain = context_gain(scorer, opening(system), opening(plain[language]), question + template.end_of_turn())
                gains.append({"domain": domain, "language": language, "on_topic": on_topic, "question": question,
                              "gain": round(gain, 3)})
    figures = {"threshold": OFF_TOPIC_BELOW, "by_language": {lang: _separation(gains, lang, OFF_TOPIC_BELOW) for lang in plain},
               "judged_languages": sorted(PLAIN_SYSTEM_PROMPTS), "gains": gains}
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return 0
    for domain in DOMAINS:
        on = [g["gain"] for g in gains if g["domain"] == domain and g["on_topic"]]
        off = [g["gain"] for g in gains if g["domain"] == domain and not g["on_topic"]]
        print(f"{domain:>8}: on-topic median {statistics.median(on):+.2f} (lowest {min(on):+.2f}); "
              f"off-topic median {statistics.median(off):+.2f} (highest {max(off):+.2f})")
    for language, row in figures["by_language"].items():
        judged = "judged" if language in PLAIN_SYSTEM_PROMPTS else "not judged by the flag"
        print(f"{language} ({judged}): AUC {row['auc']}; at {OFF_TOPIC_BELOW}: on-topic flagged {row['on_flagged']}/{row['on']}, "
              f"off-topic flagged {row['off_flagged']}/{row['off']}")
    return 0


def _separation(gains: list[dict[str, Any]], language: str, threshold: float) -> dict[str, Any]:
    on = [g["gain"] for g in gains if g["language"] == language and g["on_topic"]]
    off = [g["gain"] for g in gains if g["language"] == language and not g["on_topic"]]
    auc = sum((a > b) + 0.5 * (a == b) for a in on for b in off) / (len(on) * len(off))
    return {"auc": round(auc, 3), "on": len(on), "off": len(off), "on_flagged": sum(g < threshold for g in on),
            "off_flagged": sum(g < threshold for g in off)}
