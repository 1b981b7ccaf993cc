"""Grading requests: the model used as a grader (the reward-model harvest), the public
LLM-as-judge formats evaluation labs use, and benchmark answer-extraction instructions.

Grading alone is weak evidence: labs grade other models' answers with an LLM judge every day.
:data:`RUBRIC_GRADING` says that a request asks for a grade of a response;
:data:`LLM_JUDGE` says that it is shaped like a comparative evaluation harness (two
assistants' answers, ``[[A]]``/``[[B]]`` verdicts, ``[[rating]]``); :data:`ANSWER_FORMAT`
says that a prompt constrains the answer for automatic extraction (``\\boxed{}``, a final
``Answer:`` line). The last two are exculpatory context in scoring, never evidence against.
"""

from __future__ import annotations

from distillguard.detection.signals._patterns import PatternSignal

_EN_OUTPUT = r"(?:response|answer|reply|completion|output)s?"

RUBRIC_GRADING = PatternSignal(
    "rubric_grading",
    "uses the model as a grader or reward model for a response",
    {
        "en": (
            r"\breward model\b",
            r"\b(?:score|grade|rate|evaluate|judge|assess)\s+(?:the\s+|this\s+|each\s+|these\s+|following\s+|"
            r"below\s+|given\s+)?(?:candidate\s+|assistant'?s?\s+|model'?s?\s+|ai\s+)?"
            + _EN_OUTPUT
            + r"\b",
            r"\b" + _EN_OUTPUT + r"\b[^\n]*\bscale (?:of|from) \d+ ?(?:-|to|–) ?\d+",
            r"\b(?:preference|reward|quality|helpfulness|harmlessness)\s+scores?\b",
            r"\bact as (?:a|an)\b[^.\n]*\b(?:grader|judge|evaluator|rater|annotator|reviewer)\b",
            r"\b(?:against|using|per|following|based on|according to)\s+(?:the|this|a|our|these)\s+"
            r"(?:\w+\s+)?(?:rubric|scoring criteria|grading criteria)\b",
            r"\b\d+[- ]point likert\b|\blikert scale\b",
            r"\[\[rating\]\]",
        ),
        "zh": (
            r"评分标准|评分细则|奖励模型",
            r"(?:给|对|为)(?:这个|这段|下面的?|以下的?|该)?(?:回答|答案|回复|输出)(?:进行)?(?:打分|评分)",
            r"(?:回答|答案|回复)[^。\n]*(?:打分|评分|给出\d+[-~到至]\d+分)",
        ),
        "ru": (
            r"(?:оцени|поставь\s+оценку|выставь\s+балл)[^.\n]*(?:ответ|отклик)",
            r"ответ[^.\n]*(?:по\s+шкале|от\s+\d+\s+до\s+\d+)",
        ),
        "es": (
            r"(?:califica|punt[uú]a|eval[uú]a|ponle\s+una\s+nota)[^.\n]*(?:respuesta|contestaci[oó]n)",
        ),
        "fr": (r"(?:note|notez|[ée]value|[ée]valuez)[^.\n]*r[ée]ponse",),
        "de": (r"(?:bewerte|benote|bewerten\s+Sie)[^.\n]*Antwort",),
        "ja": (r"(?:回答|応答|返答)を[^。\n]*(?:評価|採点)",),
        "ko": (r"(?:답변|응답)[을를]?\s*[^.\n]*(?:평가|채점)",),
    },
)

LLM_JUDGE = PatternSignal(
    "llm_judge",
    "shaped like an LLM-as-judge evaluation: two assistants' answers compared, a verdict format",
    {
        "en": (
            r"\[\[(?:A|B|C|A=B|A>B|B>A|A>>B|B>>A|rating)\]\]",
            r"\bassistant\s+a\b(?s:.*)\bassistant\s+b\b",
            r"\b(?:two|both) (?:ai )?assistants\b",
            r"\bwhich (?:assistant|response|model|answer|output) is better\b",
            r"\bmodel_identifier\b",
            r"\bimpartial judge\b",
            r"\bposition bias(?:es)?\b",
            r"\b(?:pairwise|side[- ]by[- ]side) (?:comparison|evaluation|judg(?:e)?ment)\b",
            r"\b(?:response|answer|output) \(?a\)?\s*[:\]](?s:.*)\b(?:response|answer|output) \(?b\)?\s*[:\]]",
        ),
        "zh": (r"哪个(?:回答|模型|助手|回复)更好|两个(?:AI)?助手的(?:回答|回复)",),
    },
)

ANSWER_FORMAT = PatternSignal(
    "answer_format",
    "constrains the answer for automatic extraction, as evaluation harnesses do",
    {
        "en": (
            r"\\boxed\b",
            r"\b(?:after|following)\s+[\"'“]?####",
            r"\blast line\b[^.\n]*\b(?:form|format)\b",
            r"\b(?:answer|respond|reply)\s+with\s+(?:only|just)\b[^.\n]*\b(?:letter|number|"
            r"numeric|option|choice|label)\b",
            r"\b(?:final answer|answer)\s+(?:should|must)\s+be\b[^.\n]*\b(?:form|format)\b",
            r"\banswer:\s*\$(?:answer|letter)\b",
            r"\b(?:code|function body)\s+only\b",
        ),
        "any": (
            r"(?:^|\n)[ \t]*(?:answer|a|antwort|r[ée]ponse|respuesta|resposta|risposta|答案|答え|"
            r"ответ|정답|jawaban|đáp án)[ \t]*[:：][ \t]*$",
        ),
    },
)
