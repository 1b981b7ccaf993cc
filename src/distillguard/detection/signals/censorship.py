"""Censorship-safe rewrites: requests to make an answer pass political censorship.

Words alone are not requests: a code review (代码审查), a poem about harmony (和谐), a
developer building a sensitive-word filter (敏感词过滤) or a post that must "pass review" are
ordinary. A pattern needs the rewrite (remove, avoid, comply) and its political target
(censors, politically sensitive content, the state's review rules).
"""

from __future__ import annotations

from distillguard.detection.signals._patterns import PatternSignal

CENSORSHIP_REWRITE = PatternSignal(
    "censorship_rewrite",
    "asks for a politically sanitised rewrite that would pass censorship",
    {
        "en": (
            r"\bcensor(?:ship|ed)?[- ](?:safe|compliant|friendly|proof)\b",
            r"\b(?:pass|survive|clear|get (?:past|through)|satisfy)\s+(?:the\s+)?(?:\w+\s+)?"
            r"(?:censors|censorship)\b",
            r"\b(?:remove|strip|avoid|scrub|delete|drop)\s+(?:any(?:thing)?|all|every)\s+(?:\w+\s+)?"
            r"politically\s+sensitive\b",
            r"\bpolitically (?:safe|acceptable|compliant|harmless) (?:version|rewrite|answer|wording|text)\b",
            r"\b(?:pass|clear|survive|get through)\s+(?:the\s+)?(?:content|state|government|political)\s+"
            r"(?:review|moderation|inspection)\b[^.\n]*\b(?:china|chinese|prc|mainland|beijing)\b",
            r"\b(?:china|chinese|prc|mainland|beijing)\b[^.\n]*\b(?:pass|clear|survive|get through)\s+"
            r"(?:the\s+)?(?:content|state|government|political)\s+(?:review|moderation|inspection)\b",
            r"\b(?:rewrite|rephrase|reword|sanitize|sanitise|soften|tone down)\b[^.\n]*"
            r"\b(?:censors?|censorship|party line|official (?:line|narrative|position)|politically sensitive)\b",
        ),
        "zh": (
            r"(?:去掉|删除|删去|避免|规避|回避|屏蔽|隐去|淡化)[^。\n]*(?:政治)?敏感(?:内容|信息|表述|话题|词汇|字眼)",
            r"符合(?:国内|中国|大陆|内地)?的?(?:审查|监管|网信)(?:要求|规定|标准)",
            r"(?:审查|审核)安全的(?:回答|版本|说法)|过审的?(?:版本|回答|说法)",
            r"政治(?:上)?(?:正确|安全|稳妥)的(?:版本|回答|说法|表述)",
        ),
        "ru": (
            r"(?:пройти|обойти|прошл[аио]?)\s+цензур",
            r"(?:убери|удали|избегай)[^.\n]*политически\s+(?:острое|чувствительн)",
        ),
    },
)
