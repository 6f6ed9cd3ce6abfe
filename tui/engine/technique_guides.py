"""What each technique does and the seed it expects, with an example, for the app's technique tabs and help.

The examples are the chapter's own where it gives one (basic prompting, the chain, Magpie, SelfInstruct).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TechniqueGuide:
    """One technique, told to a person who has not met it."""

    summary: str  # one line: what it does and what seed it expects
    seed: str  # an example seed ("" for a technique that needs none)
    output: str  # what the model made of it
    note: str = ""  # the mistake people make with it, if there is a common one


GUIDES = {
    "text": TechniqueGuide(
        "Fills the prompt template with each seed and the model answers it. Seed: a prompt.",
        "Generate a question about the Smol Course on small AI models.",
        "What is the purpose of the Smol Course?",
    ),
    "chain": TechniqueGuide(
        "Writes a question or request from each seed, then answers it. Seed: a topic, a task or a request for an instruction.",
        "Generate a question about the Smol Course on small AI models.",
        "instruction: What is the purpose of the Smol Course?\n"
        "response: The Smol Course teaches how to train and use small language models on modest hardware.",
        "A small model sometimes answers the seed instead of asking: that instruction fails the not_a_request gate "
        "and is stored as failed, unanswered.",
    ),
    "magpie": TechniqueGuide(
        "Needs no seed: the model writes the user's turn from its chat template, then answers it.",
        "",
        "system: You are a helpful assistant.\n"
        "user: What are the top 3 universities in the world?\n"
        "assistant: Rankings differ, but MIT, Stanford and Oxford are usually near the top…",
        "Steer the domain with the system prompt, written as a description of the assistant (\"You are an AI "
        "assistant who helps users solve math problems\"), not as an order to generate.",
    ),
    "self-instruct": TechniqueGuide(
        "Lists new instructions from each seed and keeps the new, well-formed ones. Seed: an instruction or a passage.",
        "Synthetic data can be made by prompting a model by hand: ask it for a question, then feed the question back "
        "to get an answer.",
        "1. What is the process of creating synthetic data through manual prompting?\n"
        "2. Explain why manually prompted data is often not diverse.",
    ),
    "evol-instruct": TechniqueGuide(
        "Rewrites each instruction into a harder one, round after round. Seed: an instruction.",
        "Name a fruit.",
        "round 1 (add constraints): Name a tropical fruit that is rich in vitamin C.\n"
        "round 2 (deepening): Name a tropical fruit rich in vitamin C and explain how its harvest season "
        "affects its price.",
        "An evolution can drift from the original's meaning: each sample keeps its parent, shown in review.",
    ),
    "preference": TechniqueGuide(
        "Writes 2 to 4 responses to each instruction and has the judge rate each: the best against the worst makes a "
        "preference pair for DPO. Seed: an instruction.",
        "What is the Smol Course?",
        "response 1 (temperature 0.3, rated 4): A free course on training and using small language models.\n"
        "response 2 (temperature 1.2, rated 2): It is a course.\n"
        "pair: response 1 chosen over response 2, margin 2",
        "A 135M judge agrees with people only now and then: a bigger GGUF or a server judges better, and Compare "
        "pairs (p in review) lets a person decide.",
    ),
    "judge": TechniqueGuide(
        "Rates stored samples 1 to 5 with a judge model, one verdict stored at a time, and tags their instructions. "
        "No seed: it takes the samples its filters choose (ctrl+g; Samples caps how many).",
        "user: What is the Smol Course?\nassistant: A free course on training and using small language models.",
        "rated 4: It answers the question plainly. · good input, very easy, Information seeking",
        "The embedded 135M model is a weak judge: name a bigger GGUF or a server's URL as the judge model.",
    ),
    "pipeline": TechniqueGuide(
        "Chains steps (load seeds >> generate an instruction >> generate a response); every step output is cached.",
        "Generate a question about the Smol Course on small AI models.",
        "load_seeds → text · generate_instruction → instruction · generate_response → response",
        "A re-run reuses the cached outputs: f8 (No cache) generates again.",
    ),
}
