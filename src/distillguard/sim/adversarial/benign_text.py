"""What legitimate customers write that a careless detector confuses with harvesting.

- People everywhere ask for worked solutions in their own words: "explain step by step",
  "show the working", "how did you get that", in each language as it is taught at school.
- Evaluation labs grade other models' answers with the public judge prompts of MT-Bench,
  AlpacaEval and Arena-Hard (quoted here as those projects publish them, in short form).
- Evaluation harnesses wrap benchmark items in answer-extraction instructions of the kind
  lm-evaluation-harness and simple-evals use.
- Agent products give every user the same system prompt and tool set.
"""

from __future__ import annotations

import json
import random

# --- ordinary worked-solution requests, as people phrase them ----------------------------------
STEPWISE: dict[str, tuple[str, ...]] = {
    "en": (
        "Can you explain this step by step?",
        "Please show your work.",
        "Explain your reasoning.",
        "How did you get that answer?",
        "Walk me through the solution.",
        "Can you explain your thinking on this one?",
        "I don't get it, can you break it down?",
    ),
    "zh": (
        "请一步一步地解释。",
        "能详细说明一下解题步骤吗？",
        "请写出解题过程。",
        "你是怎么得出这个答案的？",
        "请逐步说明。",
        "麻烦讲一下思路。",
    ),
    "ja": (
        "ステップごとに説明してください。",
        "途中式も書いてください。",
        "どうやってその答えになったのか教えてください。",
        "解き方を順を追って説明して。",
    ),
    "ko": (
        "단계별로 설명해 주세요.",
        "풀이 과정을 보여 주세요.",
        "어떻게 그 답이 나왔는지 설명해 줘.",
        "차근차근 알려 주세요.",
    ),
    "ru": (
        "Объясни по шагам, пожалуйста.",
        "Распиши решение подробно.",
        "Покажи ход решения.",
        "Как ты получил этот ответ?",
        "Объясни шаг за шагом.",
    ),
    "es": (
        "¿Puedes explicarlo paso a paso?",
        "Muestra el procedimiento, por favor.",
        "Explica tu razonamiento.",
        "¿Cómo llegaste a esa respuesta?",
    ),
    "fr": (
        "Peux-tu expliquer étape par étape ?",
        "Montre ta démarche.",
        "Explique ton raisonnement.",
        "Comment es-tu arrivé à ce résultat ?",
        "Détaille le calcul, s'il te plaît.",
    ),
    "de": (
        "Kannst du das Schritt für Schritt erklären?",
        "Zeig bitte den Rechenweg.",
        "Erklär deinen Lösungsweg.",
        "Wie kommst du auf das Ergebnis?",
    ),
    "pt": (
        "Pode explicar passo a passo?",
        "Mostre os cálculos, por favor.",
        "Explique seu raciocínio.",
        "Como você chegou nessa resposta?",
    ),
    "it": (
        "Puoi spiegarlo passo per passo?",
        "Mostra i passaggi.",
        "Spiega il tuo ragionamento.",
        "Come sei arrivato a questo risultato?",
    ),
    "tr": ("Adım adım açıklar mısın?", "Çözüm yolunu göster.", "Bu sonuca nasıl ulaştın?"),
    "ar": ("هل يمكنك الشرح خطوة بخطوة؟", "اشرح طريقة الحل.", "كيف توصلت إلى هذه الإجابة؟"),
    "vi": (
        "Bạn giải thích từng bước được không?",
        "Trình bày cách giải giúp mình.",
        "Làm sao ra được đáp án này?",
    ),
    "id": (
        "Bisa jelaskan langkah demi langkah?",
        "Tunjukkan cara pengerjaannya.",
        "Bagaimana kamu mendapat jawaban itu?",
    ),
    "hi": ("कृपया चरण दर चरण समझाइए।", "हल करने का तरीका दिखाइए।"),
}

# --- everyday questions in each language (when the corpus has none in it) -----------------------
_TOPICS = {
    "en": ("photosynthesis", "inflation", "the French Revolution", "black holes", "vaccines"),
    "zh": ("光合作用", "通货膨胀", "黑洞", "疫苗", "人工智能"),
    "ja": ("光合成", "インフレ", "ブラックホール", "ワクチン", "円安"),
    "ko": ("광합성", "인플레이션", "블랙홀", "백신", "금리"),
    "ru": ("фотосинтез", "инфляция", "чёрные дыры", "вакцины", "ипотека"),
    "es": ("la fotosíntesis", "la inflación", "los agujeros negros", "las vacunas", "el IVA"),
    "fr": ("la photosynthèse", "l'inflation", "les trous noirs", "les vaccins", "la TVA"),
    "de": ("die Photosynthese", "die Inflation", "schwarze Löcher", "Impfstoffe", "die Rente"),
    "pt": ("a fotossíntese", "a inflação", "os buracos negros", "as vacinas", "o imposto de renda"),
    "it": ("la fotosintesi", "l'inflazione", "i buchi neri", "i vaccini", "il mutuo"),
    "tr": ("fotosentez", "enflasyon", "kara delikler", "aşılar", "kira artışı"),
    "ar": ("البناء الضوئي", "التضخم", "الثقوب السوداء", "اللقاحات", "الادخار"),
    "vi": ("quang hợp", "lạm phát", "lỗ đen", "vắc xin", "lãi suất"),
    "id": ("fotosintesis", "inflasi", "lubang hitam", "vaksin", "pajak"),
    "hi": ("प्रकाश संश्लेषण", "महंगाई", "ब्लैक होल", "टीके", "ब्याज दर"),
}
_ASKS = {
    "en": ("What is {t}?", "Can you explain {t} simply?", "Why does {t} matter?"),
    "zh": ("什么是{t}？", "能简单解释一下{t}吗？", "{t}为什么重要？"),
    "ja": ("{t}とは何ですか？", "{t}を簡単に説明してください。", "{t}はなぜ重要なの？"),
    "ko": ("{t}이란 무엇인가요?", "{t}를 쉽게 설명해 주세요.", "{t}가 왜 중요한가요?"),
    "ru": ("Что такое {t}?", "Объясни простыми словами: {t}.", "Почему важна тема: {t}?"),
    "es": ("¿Qué es {t}?", "¿Me explicas {t} de forma sencilla?", "¿Por qué importa {t}?"),
    "fr": (
        "C'est quoi {t} ?",
        "Tu peux m'expliquer {t} simplement ?",
        "Pourquoi {t} est important ?",
    ),
    "de": ("Was ist {t}?", "Kannst du {t} einfach erklären?", "Warum ist {t} wichtig?"),
    "pt": ("O que é {t}?", "Pode explicar {t} de forma simples?", "Por que {t} é importante?"),
    "it": ("Cos'è {t}?", "Puoi spiegarmi {t} in modo semplice?", "Perché {t} è importante?"),
    "tr": ("{t} nedir?", "{t} konusunu basitçe anlatır mısın?", "{t} neden önemli?"),
    "ar": ("ما هو {t}؟", "هل يمكنك شرح {t} ببساطة؟", "لماذا {t} مهم؟"),
    "vi": ("{t} là gì?", "Giải thích {t} đơn giản giúp mình?", "Tại sao {t} quan trọng?"),
    "id": ("Apa itu {t}?", "Bisa jelaskan {t} dengan sederhana?", "Kenapa {t} penting?"),
    "hi": ("{t} क्या है?", "{t} को आसान भाषा में समझाइए।", "{t} क्यों ज़रूरी है?"),
}
_NUMS = {
    "en": "{a} apples cost {b} dollars each. How much do {c} apples cost?",
    "zh": "{a}个苹果每个{b}元，{c}个苹果多少钱？",
    "ja": "りんご1個{b}円です。{c}個買うといくらですか？（全部で{a}個あります）",
    "ko": "사과 한 개에 {b}원입니다. {c}개를 사면 얼마인가요? (사과는 {a}개 있습니다)",
    "ru": "Одно яблоко стоит {b} рублей. Сколько стоят {c} яблок, если всего их {a}?",
    "es": "Una manzana cuesta {b} pesos. ¿Cuánto cuestan {c} manzanas si hay {a}?",
    "fr": "Une pomme coûte {b} euros. Combien coûtent {c} pommes sur les {a} ?",
    "de": "Ein Apfel kostet {b} Euro. Was kosten {c} von {a} Äpfeln?",
    "pt": "Uma maçã custa {b} reais. Quanto custam {c} das {a} maçãs?",
    "it": "Una mela costa {b} euro. Quanto costano {c} delle {a} mele?",
    "tr": "Bir elma {b} lira. {a} elmadan {c} tanesi kaç lira eder?",
    "ar": "تفاحة واحدة بسعر {b} ريال. كم سعر {c} تفاحات من أصل {a}؟",
    "vi": "Một quả táo giá {b} nghìn đồng. {c} trong {a} quả táo giá bao nhiêu?",
    "id": "Satu apel harganya {b} ribu rupiah. Berapa harga {c} dari {a} apel?",
    "hi": "एक सेब {b} रुपये का है। {a} में से {c} सेब कितने के होंगे?",
}

NATIVE_LANGUAGES: tuple[str, ...] = tuple(STEPWISE)


def native_question(r: random.Random, lang: str) -> str:
    """An everyday question or a small word problem written in ``lang``."""
    if r.random() < 0.5:
        return r.choice(_ASKS[lang]).format(t=r.choice(_TOPICS[lang]))
    a = r.randint(6, 60)
    return _NUMS[lang].format(a=a, b=r.randint(2, 9), c=r.randint(2, a))


def stepwise(r: random.Random, question: str, lang: str) -> str:
    """``question`` followed or preceded by an ordinary request for the worked solution."""
    ask = r.choice(STEPWISE.get(lang, STEPWISE["en"]))
    return f"{question}\n{ask}" if r.random() < 0.7 else f"{ask} {question}"


# --- LLM-as-judge evaluation (the public judge prompts, short form) ------------------------------
JUDGE_SINGLE = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response "
    "provided by an AI assistant to the user question displayed below. Your evaluation should "
    "consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level "
    "of detail of the response. Begin your evaluation by providing a short explanation. Be as "
    "objective as possible. After providing your explanation, you must rate the response on a "
    'scale of 1 to 10 by strictly following this format: "[[rating]]", for example: '
    '"Rating: [[5]]".\n\n[Question]\n{task}\n\n[The Start of Assistant\'s Answer]\n{answer}\n'
    "[The End of Assistant's Answer]"
)
JUDGE_PAIR_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user question displayed below. You should choose the assistant that "
    "follows the user's instructions and answers the user's question better. Avoid any position "
    "biases and ensure that the order in which the responses were presented does not influence "
    "your decision. Do not allow the length of the responses to influence your evaluation. Be as "
    "objective as possible. After providing your explanation, output your final verdict by "
    'strictly following this format: "[[A]]" if assistant A is better, "[[B]]" if assistant B '
    'is better, and "[[C]]" for a tie.'
)
JUDGE_PAIR = (
    "[User Question]\n{task}\n\n[The Start of Assistant A's Answer]\n{answer}\n"
    "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{answer_b}\n"
    "[The End of Assistant B's Answer]"
)
ARENA_PAIR = (
    "<|User Prompt|>\n{task}\n\n<|The Start of Assistant A's Answer|>\n{answer}\n"
    "<|The End of Assistant A's Answer|>\n\n<|The Start of Assistant B's Answer|>\n{answer_b}\n"
    "<|The End of Assistant B's Answer|>"
)
LEADERBOARD = (
    "I require a leaderboard for various large language models. I'll provide you with prompts "
    "given to these models and their corresponding outputs. Your task is to assess these "
    "responses, and select the model that produces the best output from a human perspective.\n\n"
    '## Instruction\n\n{{\n    "instruction": """{task}""",\n}}\n\n## Model Outputs\n\n'
    '{{\n    {{\n        "model_identifier": "m",\n        "output": """{answer}"""\n    }},\n'
    '    {{\n        "model_identifier": "M",\n        "output": """{answer_b}"""\n    }}\n}}\n\n'
    "## Task\n\nEvaluate the models on the basis of the quality and relevance of their results, "
    "and select the model that generated the best result. Reply with the identifier of the best "
    "model.\n\n## Best Model Identifier"
)
JUDGE_PROMPTS = (JUDGE_SINGLE, JUDGE_PAIR, ARENA_PAIR, LEADERBOARD)

# --- evaluation-harness answer formats -----------------------------------------------------------
HARNESS_FORMATS = (
    "Solve the following math problem step by step. The last line of your response should be of "
    'the form "ANSWER: $ANSWER" (without quotes) where $ANSWER is the answer to the problem.\n\n{task}',
    "{task}\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
    "Question: {task}\nAnswer:",
    "{task}\n\nRespond with only the final numeric answer.",
    "Complete the function below. Respond with the code only.\n\n{task}",
)

# --- one agent product's harness, given to all of its users ----------------------------------------
PRODUCT_SYSTEM = (
    "You are Patchwright, an AI pair programmer running inside the user's editor. You can read "
    "and write files in the open workspace and run commands in its terminal. Prefer small, "
    "reviewable diffs; ask before deleting files; never commit on the user's behalf."
)
PRODUCT_TOOLS = json.dumps(
    [
        {
            "name": "open_file",
            "description": "Open a workspace file and return its text with line numbers.",
            "input_schema": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "start_line": {"type": "integer"}},
                "required": ["path"],
            },
        },
        {
            "name": "apply_patch",
            "description": "Apply a unified diff to the workspace.",
            "input_schema": {
                "type": "object",
                "properties": {"patch": {"type": "string"}},
                "required": ["patch"],
            },
        },
        {
            "name": "terminal",
            "description": "Run a command in the workspace terminal and return its output.",
            "input_schema": {
                "type": "object",
                "properties": {"cmd": {"type": "string"}, "timeout_s": {"type": "integer"}},
                "required": ["cmd"],
            },
        },
        {
            "name": "search_workspace",
            "description": "Search the workspace for a regular expression.",
            "input_schema": {
                "type": "object",
                "properties": {"pattern": {"type": "string"}},
                "required": ["pattern"],
            },
        },
    ]
)
PRODUCT_TURNS = (
    "The login page throws a 500 after I upgraded Django, can you look?",
    "Add pagination to the /orders endpoint, 50 per page.",
    "tool output:\n$ pytest tests/test_orders.py\n3 failed, 12 passed",
    "Why is this React component re-rendering on every keystroke?",
    "tool output:\nsrc/api/orders.py:41: in list_orders\n    qs = Order.objects.filter(user=request.user)",
    "Rename the config flag `use_cache` to `cache_enabled` everywhere.",
    "tool output:\n$ npm run build\nerror TS2345: Argument of type 'string' is not assignable",
    "Write a migration that backfills the new `status` column.",
    "Can you explain what this regex does before I merge it?",
    "tool output:\nFound 7 matches for 'use_cache' in 4 files",
)
