"""The project's own text generator: combinatorial prompts and answers for when the public
corpus is not at hand. Varied enough that no two accounts see the same stream, plain
enough to read."""

from __future__ import annotations

import json

import numpy as np


def _pick(rng: np.random.Generator, items: tuple[str, ...]) -> str:
    return items[int(rng.integers(len(items)))]


TOPICS = (
    "the French Revolution",
    "photosynthesis",
    "black holes",
    "compound interest",
    "the immune system",
    "machine learning",
    "climate change",
    "the Roman Empire",
    "plate tectonics",
    "supply and demand",
    "quantum computing",
    "the water cycle",
    "jazz music",
    "sourdough baking",
    "marathon training",
    "home composting",
    "the stock market",
    "electric cars",
    "sleep hygiene",
    "learning a new language",
    "public speaking",
    "remote work",
    "urban gardening",
    "cryptography",
    "volcanoes",
)
ASKS = (
    "Can you explain {t} in simple terms?",
    "What are the main arguments for and against {t}?",
    "Give me three surprising facts about {t}.",
    "How would you teach {t} to a ten-year-old?",
    "Write a short blog post introduction about {t}.",
    "What are common misconceptions about {t}?",
    "I'm preparing a presentation on {t}. What should I include?",
    "Summarize the history of {t} in a paragraph.",
    "What books would you recommend about {t}?",
    "hey, quick question about {t} - where do I even start?",
)
NAMES = ("Maya", "Tom", "Aiko", "Luis", "Priya", "Olek", "Grace", "Samir", "Lena", "Kofi")
ITEMS = (
    ("apples", 0.5),
    ("notebooks", 3),
    ("tickets", 12),
    ("plants", 7),
    ("books", 15),
    ("cupcakes", 2),
    ("bus passes", 25),
    ("T-shirts", 9),
)
CODE_TASKS = (
    "Write a Python function that {v}.",
    "Implement {v} in JavaScript.",
    "How do I {v} in Go? Show an example.",
    "Write a SQL query to {v}.",
    "Fix the bug in my code: it should {v} but it returns None.",
    "Write unit tests for a function that should {v}.",
)
CODE_VERBS = (
    "reverses a linked list",
    "parses a CSV file into a list of dicts",
    "finds the longest palindromic substring",
    "merges two sorted arrays",
    "validates an email address",
    "computes the median of a stream",
    "deduplicates rows by a key",
    "retries an HTTP request with backoff",
    "counts word frequencies in a text",
    "detects a cycle in a directed graph",
    "converts Roman numerals to integers",
    "rate-limits calls to a function",
    "find the top 5 customers by revenue",
    "flatten a nested JSON object",
)
GENERAL = (
    "Rewrite this sentence to be more formal: '{s}'",
    "Translate into Spanish: '{s}'",
    "Classify the sentiment of: '{s}'",
    "Turn this into a haiku: '{s}'",
    "Extract the key entities from: '{s}'",
)
SENTENCES = (
    "the meeting got moved again and nobody told me",
    "our sales doubled this quarter",
    "the new park downtown is finally open",
    "I can't believe the train was late twice",
    "we are thrilled to announce our new product line",
    "the recipe needs more salt",
)
TOOL_NAMES = (
    ("get_weather", "city"),
    ("search_flights", "destination"),
    ("convert_currency", "amount"),
    ("get_stock_price", "ticker"),
    ("create_calendar_event", "title"),
    ("lookup_order", "order_id"),
    ("send_email", "recipient"),
    ("translate_text", "text"),
)
OPENERS = ("Sure! ", "Great question. ", "Here's an overview. ", "", "Let me break this down. ")
BODY = (
    "The key idea is that small, consistent steps compound over time.",
    "First, it helps to define the terms precisely.",
    "There are three main factors to consider: cost, time and risk.",
    "Historically, this developed over several centuries.",
    "In practice, most people start with a simple version and refine it.",
    "A common mistake is to optimise too early.",
    "The evidence on this point is mixed, but a few findings are robust.",
    "You can verify the result by checking a small example by hand.",
)


def chat_prompt(rng: np.random.Generator) -> str:
    return _pick(rng, ASKS).format(t=_pick(rng, TOPICS))


def math_problem(rng: np.random.Generator) -> str:
    name, (item, price) = _pick(rng, NAMES), ITEMS[int(rng.integers(len(ITEMS)))]
    n, m = int(rng.integers(3, 40)), int(rng.integers(2, 12))
    return (
        f"{name} buys {n} {item} at ${price} each and then buys {m} more. "
        f"{name} pays with a ${int(rng.integers(5, 20)) * 10} bill. How much change does {name} get?"
    )


def code_task(rng: np.random.Generator) -> str:
    return _pick(rng, CODE_TASKS).format(v=_pick(rng, CODE_VERBS))


def function_stub(rng: np.random.Generator) -> str:
    verb = _pick(rng, CODE_VERBS)
    name = "_".join(verb.split()[:2])
    return f'def {name}(data):\n    """Return a value that {verb}.\n    >>> {name}([])\n    []\n    """\n'


def general_instruction(rng: np.random.Generator) -> str:
    return _pick(rng, GENERAL).format(s=_pick(rng, SENTENCES))


def tool_request(rng: np.random.Generator) -> tuple[str, str]:
    k = int(rng.integers(1, 4))
    idx = rng.choice(len(TOOL_NAMES), size=k, replace=False)
    tools = [
        {
            "name": TOOL_NAMES[i][0],
            "description": f"{TOOL_NAMES[i][0].replace('_', ' ')}.",
            "parameters": {
                "type": "object",
                "properties": {TOOL_NAMES[i][1]: {"type": "string"}},
                "required": [TOOL_NAMES[i][1]],
            },
        }
        for i in idx
    ]
    main = TOOL_NAMES[int(idx[0])]
    text = f"Please {main[0].replace('_', ' ')} for {_pick(rng, NAMES)}'s trip to {_pick(rng, ('Paris', 'Tokyo', 'Lagos', 'Lima', 'Oslo'))}."
    return text, json.dumps(tools)


def answer(rng: np.random.Generator) -> str:
    k = int(rng.integers(2, 9))
    return _pick(rng, OPENERS) + " ".join(_pick(rng, BODY) for _ in range(k))
