"""Per-exchange text signals: reasoning-trace extraction, plain step-by-step requests,
rubric grading (the model as a reward model), censorship-safe rewrites, and the capability
a prompt targets.

The patterns describe the *request*, in the words people use for it in each language; they
are written from the public reports' descriptions and ordinary paraphrases, not from the
simulator's templates (tests check phrasings the simulator never produces).

Two levels of reasoning elicitation are kept apart on purpose: asking a model to *show its
work* ("let's think step by step") is ordinary chain-of-thought prompting that benchmarks
and students use; asking it to *reconstruct or expose its internal reasoning or thought
process* is what the distillation reports describe.
"""

from __future__ import annotations

from distillguard.signals._patterns import PatternSignal

_REASONING_NOUN_EN = (
    r"(?:reasoning|thought process|thinking process|chain[- ]of[- ]thoughts?|train of thought|"
    r"deliberations?|thinking|thoughts|cognitive process|rationale)"
)

TRACE_EXTRACTION = PatternSignal(
    "trace_extraction",
    "asks the model to expose, reconstruct or narrate its internal reasoning in full",
    {
        "en": (
            r"\b(?:internal|inner|hidden|private|underlying|complete|full|entire|whole|raw|unfiltered|detailed)\s+"
            + _REASONING_NOUN_EN,
            r"\b(?:articulate|reconstruct|narrate|expose|reveal|dump|transcribe|verbali[sz]e|externali[sz]e)\b[^.\n]{0,60}\b"
            + _REASONING_NOUN_EN,
            r"\bthink(?:ing)? (?:out loud|aloud)\b",
            r"\b(?:write|spell|lay|print|output)\s+out\s+(?:your|the|all|every|each)\b[^.\n]{0,40}\b(?:reasoning|thoughts?|thinking|steps? of (?:your )?reasoning)",
            r"<(?:reasoning|thinking|thought|scratchpad|cot)>",
            r"\b(?:every|each|all)\s+intermediate\s+(?:step|thought)s?\b",
            r"\bself[- ]corrections?\b",
            r"\b(?:considered and rejected|rejected alternatives)\b",
        ),
        "zh": (
            r"(?:内部|内在|完整|全部|详细|隐藏)的?(?:推理|思考|思维)(?:过程|链)?",
            r"(?:思考|推理|思维)(?:过程|链条|链)",
            r"(?:一步一步|逐步)地?(?:写出|列出|表述|说明|展示)",
        ),
        "ru": (
            r"(?:внутренн|полн|скрыт|весь|всю|цепочк)[а-яё]*\s+(?:ход[а-яё]*\s+)?(?:рассуждени|мысл)[а-яё]*",
            r"(?:ход|цепочк)[а-яё]*\s+(?:рассуждени|мысл)[а-яё]*",
            r"шаг за шагом",
        ),
        "ko": (
            r"(?:내부|전체|숨겨진)\s*(?:추론|사고|생각)",
            r"(?:추론|사고|생각)(?:의)?\s*(?:과정|흐름)",
            r"단계별로|한\s*단계씩",
        ),
        "ja": (
            r"(?:内部|全て|すべて|隠れた)の?(?:思考|推論)",
            r"(?:思考|推論)(?:の)?(?:過程|プロセス)",
            r"推論の(?:すべて|全て)|中間ステップ",
            r"一歩ずつ",
        ),
        "es": (
            r"razonamiento\s+(?:interno|completo|oculto)",
            r"(?:proceso|cadena)\s+de\s+(?:pensamiento|razonamiento)",
            r"paso a paso[^.\n]{0,60}razonamiento|razonamiento[^.\n]{0,60}paso a paso",
        ),
        "ar": (r"(?:تفكيرك|تفكير)\s+(?:الداخلي|الكامل)", r"خطوة\s+بخطوة"),
        "vi": (r"(?:quá trình|chuỗi)\s+suy\s+(?:luận|nghĩ)", r"suy luận nội bộ", r"từng bước"),
        "id": (
            r"(?:proses|rantai)\s+(?:penalaran|pemikiran)",
            r"penalaran\s+internal",
            r"langkah demi langkah",
        ),
        "de": (
            r"(?:inneren|gesamten|vollständigen)\s+(?:Denkprozess|Gedankengang|Überlegungen)",
            r"Denkprozess",
            r"Schritt für Schritt",
        ),
        "fr": (
            r"(?:raisonnement|processus de réflexion)\s+(?:interne|complet)",
            r"étape par étape",
        ),
        "pt": (r"(?:raciocínio)\s+(?:interno|completo)", r"passo a passo"),
    },
)

COT_REQUEST = PatternSignal(
    "cot_request",
    "ordinary chain-of-thought prompting: step by step, show your work",
    {
        "en": (
            r"\bstep[- ]by[- ]step\b",
            r"\bshow (?:your|all (?:of )?your) work\b",
            r"\bexplain (?:your|the) (?:reasoning|answer|approach|steps)\b",
            r"\bwalk (?:me )?through\b",
        ),
        "zh": (r"一步一步|逐步", r"解题过程"),
        "other": (
            r"шаг за шагом|단계별|一歩ずつ|paso a paso|خطوة بخطوة|từng bước|langkah demi langkah|Schritt für Schritt|étape par étape|passo a passo",
        ),
    },
)

RUBRIC_GRADING = PatternSignal(
    "rubric_grading",
    "uses the model as a grader or reward model for another answer",
    {
        "en": (
            r"\b(?:rubric|grading criteria|scoring criteria)\b",
            r"\breward model\b",
            r"\b(?:score|grade|rate|evaluate|judge)\s+(?:the|this|each|following)?\s*(?:candidate |assistant |model )?(?:response|answer|reply|completion|output)s?\b",
            r"\b(?:preference|reward|quality)\s+score\b",
            r"\b(?:pass|fail)\s+or\s+(?:pass|fail)\b",
            r"\bon a scale (?:of|from) \d+ ?(?:-|to) ?\d+\b",
            r"\bact as (?:a|an) (?:grader|judge|evaluator)\b",
        ),
        "zh": (r"评分标准|打分|评分(?:规则|细则)|奖励模型",),
    },
)

CENSORSHIP_REWRITE = PatternSignal(
    "censorship_rewrite",
    "asks for a politically sanitised rewrite that would pass censorship",
    {
        "en": (
            r"\bcensor(?:ship|ed)?[- ](?:safe|compliant|friendly)\b",
            r"\b(?:pass|survive|clear)\s+(?:content\s+)?(?:review|censorship|moderation)\b",
            r"\b(?:strict|domestic)\s+censorship\b",
            r"\bremove (?:anything|all|any) (?:politically )?sensitive\b",
            r"\b(?:acceptable|safe) to publish\b[^.\n]{0,60}\b(?:censor|regulat|review)",
        ),
        "zh": (r"审查|敏感(?:内容|词)|合规的?(?:回答|版本)|和谐",),
    },
)

CODING = PatternSignal(
    "coding",
    "software engineering: code, functions, debugging",
    {
        "en": (
            r"```|\bdef \w+\(|\bfunction\s+\w+\s*\(|\bclass \w+[:(]|#include\b|\bimport \w+",
            r"\b(?:python|javascript|typescript|java|golang|rust|c\+\+|sql|bash|regex|json|html|css)\b",
            r"\b(?:implement|refactor|debug|unit tests?|compile|stack trace|bug|api endpoint|repository|pull request)\b",
            r"\bwrite (?:a |an )?(?:program|script|function|query|class|method)\b",
        ),
    },
)

MATH = PatternSignal(
    "math",
    "mathematics and quantitative word problems",
    {
        "en": (
            r"\b(?:how many|how much|what is the (?:total|sum|product|probability|value))\b",
            r"\b(?:solve|prove|equation|integral|derivative|theorem|probability|percent|fraction)\b",
            r"\d+\s*[-+*/^×÷=]\s*\d+",
        ),
    },
)

PLANNING = PatternSignal(
    "planning",
    "long-horizon planning and task decomposition",
    {
        "en": (
            r"\b(?:break (?:down|into)|decompose)\b[^.\n]{0,40}\b(?:steps|subtasks|milestones|plan)\b",
            r"\b(?:multi-step|\d+-step|step-by-step|execution|project) plan\b",
            r"\bmilestones?\b[^.\n]{0,40}\bdependenc",
        ),
    },
)

TEXT_SIGNALS: tuple[PatternSignal, ...] = (
    TRACE_EXTRACTION,
    COT_REQUEST,
    RUBRIC_GRADING,
    CENSORSHIP_REWRITE,
    CODING,
    MATH,
    PLANNING,
)
