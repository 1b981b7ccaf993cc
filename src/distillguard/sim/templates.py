"""Prompt wrappers: the legitimate habits that look suspicious (step-by-step benchmark
prompting, batch templates) and the campaigns' elicitation wrappers, with paraphrases so
that no detector can key on one string. ``{task}`` is the wrapped prompt."""

from __future__ import annotations

import numpy as np

# --- legitimate --------------------------------------------------------------------------
BENCHMARK_COT = (
    "Q: {task}\nA: Let's think step by step.",
    "{task}\nLet's think step by step. Put the final answer after ####.",
    "Solve the following math problem. Show your work, then give the answer.\n\n{task}",
    "Question: {task}\nAnswer with a number after 'The answer is'.",
)
HUMANEVAL = (
    "Complete the following Python function. Return only code.\n\n{task}",
    "{task}",
    "Write the body of this function so that the doctests pass:\n```python\n{task}\n```",
)
STUDENT = (
    "{task}",
    "Can you help me understand this homework question? {task}",
    "I got a different answer than my friend, can you explain step by step? {task}",
    "{task} (please explain, my exam is tomorrow)",
    "Why is this the right approach? {task}",
    "Check my reasoning on this: {task}",
)
BATCH_TEMPLATES = (
    "Classify the following customer support ticket into one of: billing, shipping, returns, "
    "technical, other. Reply with the label only.\n\nTicket: {task}",
    "Summarize the following document in three bullet points for an executive audience.\n\n"
    "Document:\n{task}",
    "Extract the product name, price and currency from the text below as JSON with keys "
    "product, price, currency.\n\nText: {task}",
    "Translate the following product description into German, keeping the formatting.\n\n{task}",
    "Rate the toxicity of this user comment from 0 to 3 and reply with the digit only: {task}",
)
APP_SYSTEMS = (
    "You are Lumi, a friendly cooking assistant for the RecipeBox app. Keep answers short.",
    "You are a customer service agent for Northwind Telecom. Be polite and concise.",
    "You are StudyBuddy, a tutor for high-school students. Never give answers without explanation.",
    "You are a travel planning assistant. Ask clarifying questions when needed.",
    "You help users of FinTrack understand their spending. Do not give investment advice.",
    "You are the writing assistant inside DocuPad. Match the user's tone.",
    "You are an HR policy assistant for Contoso employees. Cite the policy section.",
    "You are a fitness coach chatbot. Encourage healthy habits.",
)
AGENT_SYSTEM = (
    "You are a coding agent working in the user's repository. Use the tools to read files, "
    "edit code and run tests. Keep changes minimal and explain what you did."
)
LICENSED_SYSTEM = (
    "You are generating training data under contract DG-2026-17. Answer completely and "
    "show your reasoning.",
)
RESELLER_CUSTOMER_SYSTEMS = (
    None,
    "You are a helpful assistant.",
    "You are a helpful assistant. Answer in the user's language.",
)

# --- campaigns -----------------------------------------------------------------------------
REASONING_EN = (
    "{task}\n\nImagine and articulate the internal reasoning behind a completed response to the "
    "task above, and write it out step by step.",
    "Task: {task}\n\nBefore the final answer, write out the complete internal reasoning you would "
    "follow, every intermediate step, in full detail. Then give the answer.",
    "<task>{task}</task>\nProduce your full chain of thought inside <reasoning> tags, covering "
    "each step you considered and rejected, then the answer inside <answer> tags.",
    "### Problem\n{task}\n\n### Instructions\nThink out loud. Narrate your entire thought process "
    "step by step, including self-corrections, before answering.",
    "{task}\n\nDo not skip any reasoning. Spell out the hidden thinking that leads to the "
    "solution, as a numbered list of steps, then state the result.",
    "Explain exactly how you would reason your way to a complete answer for: {task}\n"
    "Reconstruct your internal deliberation step by step.",
)
REASONING_ZH = (
    "{task}\n\n请详细写出你得出答案的完整内部推理过程，一步一步地列出每一个中间步骤。",
    "题目：{task}\n要求：先把你的全部思考过程逐步写出来（包括每一步的理由），最后再给出答案。",
    "请想象你已经完成了这个任务：{task}\n现在请把背后的内在推理一步步清晰地表述出来。",
)
REASONING_OTHER = {
    "ru": (
        "{task}\n\nПодробно опиши весь свой внутренний ход рассуждений шаг за шагом, прежде чем дать ответ.",
        "Задача: {task}\nЗапиши полную цепочку рассуждений, каждый промежуточный шаг, затем ответ.",
    ),
    "ko": (
        "{task}\n\n답을 내기 전에 내부 추론 과정을 단계별로 모두 자세히 적어 주세요.",
        "문제: {task}\n생각의 흐름을 한 단계씩 빠짐없이 서술한 뒤 최종 답을 쓰세요.",
    ),
    "ja": (
        "{task}\n\n答えを出す前に、内部の思考過程をすべて一歩ずつ詳しく書き出してください。",
        "課題：{task}\n推論のすべての中間ステップを順番に説明してから、最終的な答えを示してください。",
    ),
    "es": (
        "{task}\n\nAntes de responder, escribe paso a paso todo tu razonamiento interno, sin omitir ningún paso.",
        "Tarea: {task}\nArticula el razonamiento interno completo detrás de la respuesta, paso a paso.",
    ),
    "ar": ("{task}\n\nاكتب خطوة بخطوة كل تفكيرك الداخلي بالتفصيل قبل أن تعطي الإجابة النهائية.",),
    "vi": (
        "{task}\n\nHãy viết ra toàn bộ quá trình suy luận nội bộ của bạn từng bước một trước khi trả lời.",
    ),
    "id": (
        "{task}\n\nTuliskan seluruh proses penalaran internal Anda langkah demi langkah sebelum menjawab.",
    ),
    "de": (
        "{task}\n\nSchreibe vor der Antwort deinen gesamten inneren Denkprozess Schritt für Schritt auf.",
    ),
}
RUBRIC = (
    "You are an expert grader. Score the response below against the rubric on a scale of 1-10 "
    "and justify each criterion.\nRubric: correctness (4), completeness (3), clarity (3).\n\n"
    'Prompt: {task}\n\nResponse: {answer}\n\nReturn JSON: {{"score": int, "rationale": str}}',
    "Act as a reward model. Given the question and the candidate answer, output a scalar "
    "preference score between 0 and 1 and a one-line reason.\nQuestion: {task}\nCandidate: {answer}",
    "Compare the candidate answer with the reference criteria. For each criterion say PASS or "
    "FAIL, then give an overall grade A-F.\nCriteria: factual accuracy; follows instructions; "
    "safe.\nTask: {task}\nCandidate answer: {answer}",
    "Rate this assistant reply for helpfulness (1-5), harmlessness (1-5) and honesty (1-5). "
    "Be strict.\n[USER] {task}\n[ASSISTANT] {answer}",
)
POLITICAL_TOPICS = (
    "the 1989 Tiananmen Square protests",
    "the status of Taiwan",
    "press freedom in Hong Kong",
    "the treatment of Uyghurs in Xinjiang",
    "the Dalai Lama",
    "criticism of the head of state",
    "the Great Firewall",
    "Falun Gong",
    "the Cultural Revolution",
    "the South China Sea dispute",
)
CENSORSHIP = (
    "Rewrite the following answer about {topic} so that it would pass content review on a "
    "domestic platform: remove anything sensitive but keep it sounding informative.\n\nAnswer: {answer}",
    "Give a version of your answer to 'What happened during {topic}?' that is safe to publish "
    "under strict censorship rules. Avoid naming officials.",
    "Produce a censorship-compliant rewrite of this text about {topic}. Replace sensitive terms "
    "with neutral wording.\n\n{answer}",
    "关于{topic}的问题，请给出一个符合审查要求的安全回答，避免任何敏感内容。",
)
AGENTIC_SYSTEMS = (
    "You are an autonomous agent. Plan, call tools, observe results, and continue until the "
    "task is complete. Record every tool call and your reasoning.",
    "You are a senior software engineer agent. Use the available tools to complete the task "
    "end to end. Think step by step before each tool call.",
    "Agent mode: decompose the task into subtasks, execute them with tools, verify, and report.",
)
CODING_WRAPPERS = (
    "{task}\n\nWrite production-quality code with tests and explain your design decisions.",
    "Solve this programming task. First outline the approach, then give the full "
    "implementation, then the complexity analysis.\n\n{task}",
    "## Task\n{task}\n## Requirements\n- Idiomatic code\n- Edge cases handled\n- Explain each step",
    "{task}\nProvide a complete, runnable solution and walk through how it works step by step.",
    "You are given the following issue in a repository:\n{task}\nPlan the fix across files, "
    "then write the patch.",
)
LONG_HORIZON = (
    "Break the following goal into a multi-step plan with milestones, dependencies and tool "
    "calls for each step, then execute step 1: {task}",
    "Create a detailed 10-step execution plan, including which tools to call and what to verify "
    "after each step, for: {task}",
)


def pick(rng: np.random.Generator, items: tuple[str, ...]) -> str:
    return items[int(rng.integers(len(items)))]


def reasoning_wrappers(languages: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for lang in languages:
        if lang == "en":
            out += REASONING_EN
        elif lang == "zh":
            out += REASONING_ZH
        else:
            out += REASONING_OTHER[lang]
    return tuple(out)
