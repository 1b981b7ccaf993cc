"""Reasoning-trace extraction, kept apart from ordinary chain-of-thought prompting.

Asking for a worked solution is ordinary: "step by step", "show your work", "explain your
reasoning", "Schritt für Schritt", "étape par étape", "逐步", "по шагам", "ステップごとに" are
how people everywhere ask, and how benchmarks (GSM8K, MGSM) prompt. That is
:data:`COT_REQUEST`, recorded but never evidence on its own.

Extraction asks the model to *expose or reconstruct its internal reasoning*: its hidden,
private, raw or internal thinking, thought process, scratchpad or monologue; that reasoning
verbatim or unabridged; its discarded branches and self-corrections; or a reconstruction of
the reasoning behind an answer it is handed. Each pattern below needs two parts (what is
asked for, and the sign that it is the *internal* trace that is wanted), so no single word
fires. The patterns address the model ("your …") where a language allows, because creative
writing asks for a character's inner monologue all the time.

RE2 syntax: no look-around; ``\\b`` is ASCII-only, so it is used only beside ASCII letters.
"""

from __future__ import annotations

from distillguard.detection.signals._patterns import PatternSignal

_EN_NOUN = (
    r"(?:reasoning|thinking|thoughts?|thought[- ]process(?:es)?|chain[- ]of[- ]thoughts?|"
    r"train of thought|deliberations?|monologue|scratch ?pad|scratch ?work|cognition|"
    r"stream of consciousness|reasoning (?:trace|process|steps))"
)
_EN_HIDDEN = (
    r"(?:internal|inner|hidden|private|secret|raw|unfiltered|unedited|behind[- ]the[- ]scenes|"
    r"latent|undisclosed|unspoken|concealed|verbatim|unabridged|uncensored|unredacted)"
)
_EN_WHOLE = r"(?:full|complete|entire|whole|actual|real|true)"
_EN_VERBATIM = (
    r"(?:verbatim|unabridged|unedited|uncondensed|word[- ]for[- ]word|in (?:its|their) entirety|"
    r"without (?:summari[sz]ing|condensing|abridging|omitting|skipping|leaving out)|"
    r"nothing (?:left out|omitted))"
)
_EN_ANSWER = r"(?:response|answer|solution|output|completion|reply)"

TRACE_EXTRACTION = PatternSignal(
    "trace_extraction",
    "asks the model to expose or reconstruct its internal reasoning (hidden thinking, raw "
    "thought process, discarded branches), not merely to show its work",
    {
        "en": (
            # your hidden / internal / raw … reasoning
            r"\byour\s+(?:own\s+)?(?:"
            + _EN_WHOLE
            + r"\s+)?(?:"
            + _EN_HIDDEN
            + r"\s+){1,2}"
            + _EN_NOUN,
            # the hidden reasoning you … / behind … / that leads …
            r"\bthe\s+(?:"
            + _EN_WHOLE
            + r"\s+)?(?:"
            + _EN_HIDDEN
            + r"\s+){1,2}"
            + _EN_NOUN
            + r"\s+(?:(?:that|which)\s+)?(?:you\b|behind\b|lead)",
            # reveal / expose / dump … your reasoning, or the hidden reasoning
            r"\b(?:reveal|expose|disclose|leak|dump|transcribe|regurgitate|unveil|lay bare)\b[^.\n]*"
            r"\b(?:your\b[^.\n]*"
            + _EN_NOUN
            + r"|(?:the|all)\s+(?:of\s+(?:the|your)\s+)?(?:"
            + _EN_HIDDEN
            + r"\s+){1,2}"
            + _EN_NOUN
            + ")",
            # your reasoning … verbatim / without summarising, and the other order
            r"\byour\b[^.\n]*" + _EN_NOUN + r"\b[^.\n]*" + _EN_VERBATIM,
            r"\b(?:verbatim|unabridged|unedited|word[- ]for[- ]word)\b[^.\n]*\byour\b[^.\n]*"
            + _EN_NOUN,
            # reconstruct the reasoning behind a given answer
            r"\b(?:reconstruct|recreate|reverse[- ]engineer|retrace|back[- ]?fill|fabricate|imagine)\b"
            r"[^.\n]*" + _EN_NOUN + r"\b[^.\n]*\b(?:behind|that (?:led|leads|produced|"
            r"would (?:lead|produce))|leading)\b[^.\n]*\b" + _EN_ANSWER,
            r"(?:" + _EN_HIDDEN + r"\s+){1,2}" + _EN_NOUN + r"\s+behind\s+(?:your|the|this|that)\s+"
            r"(?:\w+\s+)?" + _EN_ANSWER,
            # the discarded branches of the model's own search
            r"\byour\s+(?:own\s+)?(?:dead ends|false starts|self[- ]corrections?|backtracking|"
            r"abandoned (?:paths|approaches|ideas|branches|lines of thought)|"
            r"discarded (?:ideas|approaches|branches|options)|rejected (?:ideas|approaches|branches))",
            r"\b(?:dead ends|false starts)\s+(?:and|or|&)\s+(?:self[- ]corrections?|backtracking|"
            r"corrections|abandoned)",
            r"\byou(?:'ve| have)?\s+(?:considered and rejected|tried and abandoned|weighed and discarded)\b",
            _EN_NOUN + r"\b[^.\n]*\b(?:dead ends|false starts|self[- ]corrections?|"
            r"abandoned (?:paths|approaches|ideas|branches))",
            # "chain of thought" is the trace itself: asking for the model's own is asking for it
            r"\byour\s+(?:own\s+)?(?:" + _EN_WHOLE + r"\s+)?chain[- ]of[- ]thoughts?\b",
            # emit the reasoning trace / thinking tokens
            r"\b(?:output|print|include|give|provide|return|emit|dump|reveal|share)\b[^.\n]*"
            r"\b(?:reasoning|thinking|thought)[ _-](?:traces?|tokens|content|blocks?)\b",
            # thinking tags filled with everything
            r"<(?:think|thinking|scratchpad|reasoning|thoughts?|cot|internal|inner_monologue)>"
            r"[^\n]*(?:nothing (?:left out|omitted)|without (?:omitting|leaving out|skipping)|"
            r"in (?:its|their) entirety|unabridged|verbatim|unfiltered)",
            r"(?:nothing (?:left out|omitted)|without (?:omitting|leaving out|skipping)|"
            r"unabridged|verbatim|unfiltered)\b[^\n]*<(?:think|thinking|scratchpad|"
            r"reasoning|thoughts?|cot|internal|inner_monologue)>",
        ),
        "zh": (
            r"(?:内部|内在|隐藏|隐秘|原始|未经(?:过滤|修饰|删减)|脑子里|脑海里|脑海中|内心)的?"
            r"(?:思考|推理|思维|推演)(?:过程|链条|链|轨迹)",
            r"(?:内在|隐藏|隐秘|原始)的?(?:推理|推演|思维)",
            r"(?:完整|全部|整个)的?(?:思维链|思考链|推理链)",
            r"你(?:的)?(?:完整的?|全部的?)?(?:思维链|思考链|推理链)",
            r"你[^。\n]*的内部(?:推理|思考|思维)",
            r"(?:思考|推理|思维|推演)(?:过程|链条|链)[^。\n]*"
            r"(?:原原本本|一字不差|逐字|原封不动|誊写|照搬|不要(?:省略|删减|总结|概括))",
            r"(?:原原本本|一字不差|逐字|原封不动|暴露|泄露|公开|透露|揭示)[^。\n]*"
            r"(?:思考|推理|思维|推演)(?:过程|链条|链)",
            r"(?:倒推|还原|重建|重构|复原|想象)[^。\n]*(?:思考|推理|思维|推演)(?:过程|链)?",
            r"(?:中途|之前)?(?:放弃|舍弃|否定|抛弃)(?:了|掉)?的(?:思路|想法|方案|尝试)|自我(?:纠正|修正)的过程",
        ),
        "ja": (
            r"(?:内部の?|内面の?|隠れた|隠された|頭の中の|心の中の|生の|ありのままの)(?:思考|推論)(?:過程|プロセス)?",
            r"(?:思考|推論|考え)(?:の)?(?:過程|プロセス|流れ|筋道)[^。\n]+"
            r"(?:そのまま|省略せず|一字一句|包み隠さず|ありのまま|すべて書き出|全部書き出)",
            r"(?:再構成|再現|逆算)[^。\n]*(?:思考|推論|考えの流れ)",
            r"(?:捨てた|諦めた|却下した|没にした)(?:考え|案|アイデア|方針)|自己修正の過程",
        ),
        "ko": (
            r"(?:내부|숨겨진|숨은|날것의|속마음|머릿속의?)\s*(?:사고|추론)(?:\s*과정|의\s*흐름)?",
            r"(?:사고|추론|생각)\s*(?:과정|의\s*흐름)[을를]?\s*[^.\n]*"
            r"(?:생략\s*없이|그대로\s*(?:적|써|옮)|하나도\s*빼지)",
            r"(?:재구성|역추적)[^.\n]*(?:사고|추론|생각)",
            r"(?:버린|포기한|폐기한)\s*(?:생각|아이디어|접근)",
        ),
        "ru": (
            r"(?:внутренн|скрыт|потаённ|потаенн|неотфильтрованн|истинн)[а-яё]*\s+"
            r"(?:ход[а-яё]*\s+(?:мысл|рассуждени)|рассуждени|размышлени|процесс[а-яё]*\s+мышлени|"
            r"цепочк[а-яё]*\s+(?:мысл|рассуждени))[а-яё]*",
            r"(?:сво|тво|ваш)[а-яё]*\s+(?:внутренн|скрыт|черновн)[а-яё]*\s+(?:монолог|мысл|рассуждени)[а-яё]*",
            r"(?:рассуждени|мысл|размышлени|мышлени)[а-яё]*[^.\n]*(?:целиком|дословно|"
            r"без\s+сокращени|ничего\s+не\s+(?:сокращ|пропуск|опуск|выбрасыв|утаив))",
            r"(?:восстанови|реконструируй|воссоздай)[^.\n]*(?:рассуждени|мысл|мышлени)",
            r"(?:отброшенн|отвергнут|тупиков)[а-яё]*\s+(?:вариант|иде|подход|пут|ветк)[а-яё]*",
        ),
        "es": (
            r"(?:tu|tus|su|sus)\s+(?:propio\s+)?(?:razonamiento|proceso\s+de\s+(?:pensamiento|razonamiento)|"
            r"cadena\s+de\s+(?:pensamiento|razonamiento)|mon[oó]logo|pensamientos?|reflexi[oó]n)\s+"
            r"(?:interno|interior|oculto|oculta|ocultos|privado|privada|crudo|sin\s+filtrar)",
            r"cadena\s+de\s+pensamiento\s+(?:completa|entera|[ií]ntegra)",
            r"(?:tu|su)\s+(?:propia\s+)?cadena\s+de\s+(?:pensamiento|razonamiento)",
            r"(?:razonamiento|pensamiento|reflexi[oó]n)[^.\n]*(?:tal\s+cual|textualmente|"
            r"al\s+pie\s+de\s+la\s+letra|sin\s+resumir|sin\s+omitir|palabra\s+por\s+palabra)",
            r"(?:transcribe|revela|exp[oó]n|vuelca|desvela)[^.\n]*(?:tu|tus|su|sus)\s+"
            r"(?:razonamiento|pensamiento|proceso|cadena|reflexi[oó]n|mon[oó]logo|borradores?)",
            r"(?:reconstruye|recrea|imagina)[^.\n]*(?:razonamiento|pensamiento)[^.\n]*"
            r"(?:respuesta|soluci[oó]n)",
            r"(?:ideas|pistas|caminos|enfoques)\s+(?:que\s+)?(?:descart|abandon|rechaz)",
        ),
        "fr": (
            r"(?:ton|ta|tes|votre|vos)\s+(?:propre\s+)?(?:raisonnement|processus\s+de\s+(?:pens[ée]e|r[ée]flexion)|"
            r"cha[iî]ne\s+de\s+(?:pens[ée]e|raisonnement)|monologue|pens[ée]es?|r[ée]flexion)s?\s+"
            r"(?:interne|int[ée]rieur|int[ée]rieure|cach[ée]e?|priv[ée]e?|brut|brute|non\s+filtr[ée]e?)",
            r"cha[iî]ne\s+de\s+pens[ée]e\s+(?:compl[èe]te|enti[èe]re|int[ée]grale)",
            r"(?:ta|votre)\s+(?:propre\s+)?cha[iî]ne\s+de\s+(?:pens[ée]e|raisonnement)",
            r"(?:raisonnement|pens[ée]e|r[ée]flexion)[^.\n]*(?:tel\s+quel|textuellement|mot\s+pour\s+mot|"
            r"sans\s+(?:rien\s+)?(?:r[ée]sumer|omettre|couper)|int[ée]gralement|in\s+extenso)",
            r"(?:recopie|retranscris|transcris|d[ée]voile|r[ée]v[èe]le|d[ée]balle)[^.\n]*"
            r"(?:ton|ta|tes|votre|vos)\s+(?:raisonnement|pens[ée]e|r[ée]flexion|processus|cha[iî]ne|monologue|brouillon)",
            r"(?:reconstitue|reconstruis|recr[ée]e|imagine)[^.\n]*(?:raisonnement|r[ée]flexion|pens[ée]e)",
            r"pistes\s+abandonn[ée]es|(?:id[ée]es|approches)\s+(?:[ée]cart[ée]es|rejet[ée]es|abandonn[ée]es)",
        ),
        "de": (
            r"(?:dein|deine|deinen|deinem|deiner|Ihr|Ihre|Ihren)\s+(?:eigen[a-z]*\s+)?"
            r"(?:inner|verborgen|versteckt|geheim|privat|ungefiltert|roh)[a-z]*\s+"
            r"(?:Denkprozess|Gedankeng[aä]ng|Gedanken|[ÜU]berlegung|Monolog|Gedankenkette|Nachdenken|Denkweg)",
            r"(?:vollst[aä]ndig|gesamt|ganz)[a-z]*\s+Gedankenkette",
            r"(?:deine|Ihre)\s+(?:eigene\s+)?Gedankenkette",
            r"(?:Denkprozess|Gedanken|[ÜU]berlegungen|Gedankengang|Gedankenkette|Nachdenken)[^.\n]*"
            r"(?:wortw[oö]rtlich|ungek[uü]rzt|ohne\s+(?:etwas\s+)?(?:zu\s+k[uü]rzen|wegzulassen|auszulassen|zusammenzufassen))",
            r"(?:rekonstruier|stell\s+dir\s+vor)[^.\n]*(?:Denkprozess|Gedanken|[ÜU]berlegung|Denkweg)",
            r"verworfenen?\s+(?:Ans[aä]tze|Ideen|Wege|L[oö]sungswege)|Selbstkorrekturen",
        ),
        "pt": (
            r"(?:seu|sua|seus|suas|teu|tua)\s+(?:pr[oó]prio\s+)?(?:racioc[ií]nio|processo\s+de\s+(?:pensamento|racioc[ií]nio)|"
            r"cadeia\s+de\s+(?:pensamento|racioc[ií]nio)|mon[oó]logo|pensamentos?)\s+"
            r"(?:interno|interior|oculto|oculta|privado|privada|bruto|sem\s+filtro)",
            r"cadeia\s+de\s+pensamento\s+(?:completa|inteira|integral)",
            r"(?:sua|tua)\s+(?:pr[oó]pria\s+)?cadeia\s+de\s+(?:pensamento|racioc[ií]nio)",
            r"(?:racioc[ií]nio|pensamento)[^.\n]*(?:como\s+est[aá]|literalmente|palavra\s+por\s+palavra|"
            r"sem\s+resumir|sem\s+omitir|na\s+[ií]ntegra)",
            r"(?:transcreva|revele|exponha|despeje)[^.\n]*(?:seu|sua|seus|suas)\s+"
            r"(?:racioc[ií]nio|pensamento|processo|cadeia|mon[oó]logo|rascunho)",
            r"(?:reconstrua|recrie|imagine)[^.\n]*(?:racioc[ií]nio|pensamento)[^.\n]*(?:resposta|solu[cç][aã]o)",
            r"ideias\s+descartadas|(?:caminhos|abordagens)\s+(?:descartad|abandonad)",
        ),
        "it": (
            r"(?:il\s+tuo|la\s+tua|i\s+tuoi|le\s+tue|il\s+suo|la\s+sua)\s+(?:ragionamento|processo\s+di\s+pensiero|"
            r"catena\s+di\s+pensiero|monologo|pensieri?)\s+(?:interno|interiore|nascosto|privato|grezzo|non\s+filtrato)",
            r"catena\s+di\s+pensiero\s+(?:completa|intera|integrale)",
            r"(?:la\s+tua|la\s+sua)\s+catena\s+di\s+(?:pensiero|ragionamento)",
            r"(?:ragionamento|pensiero)[^.\n]*(?:cos[iì]\s+com'[eè]|parola\s+per\s+parola|testualmente|"
            r"senza\s+riassumere|senza\s+omettere|integralmente)",
            r"(?:trascrivi|rivela|esponi)[^.\n]*(?:il\s+tuo|la\s+tua|i\s+tuoi|le\s+tue)\s+"
            r"(?:ragionamento|pensier|processo|catena|monologo|bozze)",
            r"(?:ricostruisci|ricrea|immagina)[^.\n]*(?:ragionamento|pensiero)[^.\n]*(?:risposta|soluzione)",
            r"idee\s+scartate",
        ),
        "tr": (
            r"(?:iç|gizli|saklı|ham|filtresiz)\s+(?:akıl\s+yürütme|düşünme\s+süreci|düşünce\s+(?:zinciri|süreci))",
            r"(?:tam|bütün)\s+düşünce\s+zincir",
            r"iç\s+monoloğ(?:unu|un)",
            r"(?:düşünce|akıl\s+yürütme|düşünme)[^.\n]*(?:olduğu\s+gibi|kelimesi\s+kelimesine|kısaltmadan|özetlemeden)",
            r"vazgeçtiğin\s+(?:fikir|yol)|reddettiğin\s+(?:fikir|seçenek)",
        ),
        "ar": (
            r"(?:تفكيرك|استدلالك|أفكارك|منطقك)\s+(?:الداخلي|الخفي|الخام)",
            r"(?:عملية|سلسلة)\s+(?:تفكيرك|أفكارك|استدلالك)\s+(?:الداخلية|الخفية|الكاملة)",
            r"(?:حوارك|مونولوجك)\s+الداخلي",
            r"(?:تفكيرك|أفكارك|استدلالك)[^.\n]*(?:كما\s+هو|حرفي|دون\s+(?:أي\s+)?(?:اختصار|حذف|تلخيص))",
            r"الأفكار\s+التي\s+تخليت\s+عنها|الأفكار\s+المرفوضة",
        ),
        "vi": (
            r"(?:suy\s+luận|suy\s+nghĩ|quá\s+trình\s+suy\s+(?:nghĩ|luận)|chuỗi\s+suy\s+(?:nghĩ|luận)|độc\s+thoại)\s+"
            r"(?:nội\s+tâm|nội\s+bộ|ẩn|bên\s+trong)\s+của\s+(?:bạn|anh|chị|em)",
            r"toàn\s+bộ\s+(?:chuỗi|dòng)\s+suy\s+(?:nghĩ|luận)",
            r"chuỗi\s+suy\s+(?:nghĩ|luận)\s+của\s+(?:bạn|anh|chị|em)",
            r"(?:suy\s+nghĩ|suy\s+luận)[^.\n]*(?:nguyên\s+văn|không\s+tóm\s+tắt|y\s+nguyên)",
            r"(?:(?:chép\s+lại|sao\s+chép)\s+(?:nguyên\s+văn)|tiết\s+lộ)[^.\n]*(?:suy\s+nghĩ|suy\s+luận)",
        ),
        "id": (
            r"(?:penalaran|proses\s+berpikir|pemikiran|rantai\s+pemikiran)\s+(?:internal|tersembunyi|batin|mentah)",
            r"rantai\s+pemikiran\s+(?:lengkap|utuh)",
            r"monolog\s+batin\s+(?:kamu|anda|mu)",
            r"(?:penalaran|pemikiran|proses\s+berpikir)[^.\n]*(?:apa\s+adanya|kata\s+demi\s+kata|"
            r"jangan\s+diringkas|tanpa\s+(?:diringkas|meringkas|menghilangkan))",
        ),
        "hi": (
            r"(?:आंतरिक|छिपी|छुपी|भीतरी)\s+(?:सोच|तर्क|विचार)(?:\s+प्रक्रिया)?",
            r"(?:सोच|तर्क)[^।\n]*(?:ज्यों\s+का\s+त्यों|शब्दशः|बिना\s+छोड़े)",
        ),
    },
    exclude={
        # "never reveal your hidden reasoning", "不要透露你的内部推理": the opposite request
        "en": (
            r"\b(?:do not|don'?t|never|no need to|not to|avoid|refrain from|without)\s+"
            r"(?:\w+\s+){0,2}(?:reveal|expose|disclose|leak|dump|show|share|output|print|include|mention)\b"
            r"[^.\n]*\byour\b",
        ),
        "zh": (r"(?:不要|不得|切勿|无需|不必|禁止)(?:向用户)?(?:透露|泄露|暴露|展示|输出|公开)",),
    },
)

COT_REQUEST = PatternSignal(
    "cot_request",
    "ordinary chain-of-thought prompting: step by step, show your work, explain your reasoning",
    {
        "en": (
            r"\bstep[- ]by[- ]step\b",
            r"\bshow (?:your|all (?:of )?your|the) (?:work|working|steps|calculations?)\b",
            r"\bexplain (?:your|the) (?:reasoning|answer|approach|steps|thinking|thought process)\b",
            r"\bwalk (?:me )?through\b",
            r"\blet'?s think\b",
        ),
        "zh": (r"一步一步|逐步|解题(?:过程|步骤|思路)|详细(?:的)?步骤",),
        "ja": (r"ステップごと|ステップバイステップ|段階的に|途中式|順を追って",),
        "ko": (r"단계별|한\s*단계씩|풀이\s*과정|차근차근",),
        "ru": (r"шаг\s+за\s+шагом|по\s+шагам|пошагов|ход\s+(?:решения|рассуждений)",),
        "es": (r"paso\s+a\s+paso|muestra\s+el\s+procedimiento|explica\s+tu\s+razonamiento",),
        "fr": (
            r"[ée]tape\s+par\s+[ée]tape|montre\s+ta\s+d[ée]marche|explique\s+ton\s+raisonnement",
        ),
        "de": (r"Schritt[- ]f[uü]r[- ]Schritt|Rechenweg|L[oö]sungsweg",),
        "pt": (r"passo\s+a\s+passo|explique\s+seu\s+racioc[ií]nio",),
        "it": (r"passo\s+(?:per|dopo)\s+passo|spiega\s+(?:il\s+tuo\s+)?ragionamento",),
        "other": (
            r"adım\s+adım|خطوة\s+بخطوة|từng\s+bước|langkah\s+demi\s+langkah|चरण\s+दर\s+चरण|"
            r"hatua\s+kwa\s+hatua|ধাপে\s+ধাপে|దశలవారీగా|ทีละขั้นตอน",
        ),
    },
)
