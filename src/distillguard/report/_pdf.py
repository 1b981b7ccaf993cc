"""The report as PDF (reportlab): the same content and charts as the HTML, laid out for A4.

Text is escaped for reportlab's paragraph markup. Latin, Cyrillic, Greek and Arabic text is
set in DejaVu Sans (shipped with matplotlib); prompts in Chinese, Japanese or Korean use
reportlab's built-in CID fonts, so nothing prints as empty boxes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_KANA = re.compile(r"[\u3040-\u30ff]")


def _fonts() -> tuple[str, str]:
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVu", str(ttf / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVu-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuMono", str(ttf / "DejaVuSansMono.ttf")))
        for cid in ("STSong-Light", "HeiseiMin-W3", "HYSMyeongJo-Medium"):
            pdfmetrics.registerFont(UnicodeCIDFont(cid))
    return "DejaVu", "DejaVu-Bold"


def _font_for(text: str) -> str:
    if _HANGUL.search(text):
        return "HYSMyeongJo-Medium"
    if _KANA.search(text):
        return "HeiseiMin-W3"
    if _CJK.search(text):
        return "STSong-Light"
    return "DejaVuMono"


def write_pdf(report: dict[str, Any], charts: dict[str, str], out: Path, path: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        Image,
        KeepTogether,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    regular, bold = _fonts()
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=regular, fontSize=9, leading=12)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5)
    h1 = ParagraphStyle("h1", parent=base["Heading1"], fontName=bold, fontSize=16)
    h2 = ParagraphStyle("h2", parent=base["Heading2"], fontName=bold, fontSize=12, spaceBefore=10)
    width = A4[0] - 3.6 * cm

    def p(text: Any, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    def table(header: list[str], rows: list[list[Any]], widths: list[float] | None = None) -> Table:
        data = [[p(h, small) for h in header]] + [[p(c, small) for c in row] for row in rows]
        t = Table(data, colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f5f7fa")),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cbd2d9")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    def image(name: str, height_cm: float) -> Image:
        img = Image(str(out / charts[name]))
        scale = width / img.imageWidth
        img.drawWidth, img.drawHeight = width, img.imageHeight * scale
        if img.drawHeight > height_cm * cm:
            ratio = height_cm * cm / img.drawHeight
            img.drawWidth, img.drawHeight = img.drawWidth * ratio, height_cm * cm
        return img

    r = report
    c = r["cluster"]
    infra = r["infrastructure"]
    story: list[Any] = [
        p(f"Distillation campaign report: {c['cluster_id']}", h1),
        p(
            f"Reference {r['reference']} · generated {r['generated_at']} by {r['organisation']['name']}",
            small,
        ),
        Spacer(1, 6),
        p("Summary", h2),
        p(r["summary"]),
        Spacer(1, 4),
        table(
            ["accounts", "exchanges", "first seen", "last seen", "risk", "verdict", "attribution"],
            [
                [
                    f"{c['accounts']:,}",
                    f"{c['exchanges']:,}",
                    (c["first_seen"] or "")[:16].replace("T", " "),
                    (c["last_seen"] or "")[:16].replace("T", " "),
                    f"{c['risk']:.2f}",
                    c["verdict"],
                    r["attribution"]["confidence"],
                ]
            ],
        ),
        p("Activity over time", h2),
        image("daily", 7),
        image("creations", 6),
        PageBreak(),
        p("Capabilities targeted", h2),
        image("capabilities", 7),
        table(
            ["model", "exchanges"], [[m["model"], f"{m['exchanges']:,}"] for m in r["models"][:10]]
        ),
        p("Why these accounts were flagged", h2),
        table(
            ["evidence", "value", "population baseline"],
            [[x["text"], f"{x['value']:.3g}", f"{x['baseline']:.3g}"] for x in c["reasons"]],
            [width * 0.64, width * 0.18, width * 0.18],
        ),
        p("Attribution", h2),
        p(
            (
                f"Operator: organisation {r['attribution']['operator']}. "
                if r["attribution"]["operator"]
                else ""
            )
            + f"Confidence that the accounts are operated together: {r['attribution']['confidence']}. "
            + r["attribution"]["note"]
        ),
        *[p("• " + e) for e in r["attribution"]["evidence"]],
        PageBreak(),
        p("Account graph", h2),
        image("graph", 13),
        table(
            ["linking token kind", "token (personal data pseudonymised)", "accounts"],
            [[t["kind"], t["token"], f"{t['accounts']:,}"] for t in r["linked_by"]],
            [width * 0.2, width * 0.65, width * 0.15],
        ),
        PageBreak(),
        p("Infrastructure", h2),
        table(
            ["ASN", "exchanges", "accounts"],
            [[f"AS{a['asn']}", f"{a['exchanges']:,}", a["accounts"]] for a in infra["asns"]],
        ),
        Spacer(1, 4),
        table(
            ["subnet", "exchanges", "accounts"],
            [[a["subnet"], f"{a['exchanges']:,}", a["accounts"]] for a in infra["subnets"]],
        ),
        Spacer(1, 4),
        table(
            ["client fingerprint", "exchanges", "accounts"],
            [
                [a["client_fp"], f"{a['exchanges']:,}", a["accounts"]]
                for a in infra["client_fingerprints"]
            ],
            [width * 0.7, width * 0.15, width * 0.15],
        ),
        Spacer(1, 4),
        table(
            ["user agent", "exchanges", "accounts"],
            [[a["user_agent"], f"{a['exchanges']:,}", a["accounts"]] for a in infra["user_agents"]],
            [width * 0.7, width * 0.15, width * 0.15],
        ),
        Spacer(1, 4),
        table(
            ["e-mail domain", "accounts"],
            [[d["domain"], d["accounts"]] for d in infra["email_domains"]],
        ),
        Spacer(1, 4),
        table(
            ["payment method (pseudonym)", "accounts"],
            [[m["pseudonym"], m["accounts"]] for m in infra["payment_methods"]],
        ),
        p("Representative prompts", h2),
    ]
    if r["prompts"]["mode"] == "off":
        story.append(p("Prompts are not included (configuration: report.prompts: off)."))
    for ex in r["prompts"]["examples"]:
        mono = ParagraphStyle(
            "prompt",
            parent=small,
            fontName=_font_for(ex["text"]),
            backColor=colors.HexColor("#f5f7fa"),
        )
        story.append(
            KeepTogether(
                [
                    p(f"{ex['exchanges']:,} exchanges of this shape", small),
                    p(ex["text"], mono),
                    Spacer(1, 4),
                ]
            )
        )
    story += [
        p("Accounts", h2),
        table(
            ["account", "risk", "verdict", "exchanges", "campaign share", "created"],
            [
                [
                    a["account_id"],
                    f"{a['risk']:.2f}",
                    a["verdict"],
                    f"{a['exchanges']:,}",
                    f"{(a['campaign_share'] or 0):.0%}",
                    (a["created_at"] or "")[:10],
                ]
                for a in r["accounts"][:50]
            ],
        ),
        p("Actions taken", h2),
        table(
            ["when", "action", "detail", "source"],
            [[a["at"], a["action"], a["detail"], a["source"]] for a in r["actions"]],
        ),
        p("Referral to authorities", h2),
        p(
            f"This report is submitted by {r['organisation']['name']}"
            + (
                f" ({r['organisation']['jurisdiction']})"
                if r["organisation"].get("jurisdiction")
                else ""
            )
            + f". Contact: {r['organisation']['contact']}"
            + (f" · {r['organisation']['address']}" if r["organisation"].get("address") else "")
            + f". Reference {r['reference']}."
        ),
        p(
            "The accounts above used the reporting organisation's model service in violation of its terms "
            "to extract model outputs at scale. Personal data is pseudonymised with a keyed hash; the "
            "reporting organisation can resolve the pseudonyms, account identifiers and full logs on lawful request."
        ),
    ]

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.drawString(1.8 * cm, 1.2 * cm, f"{r['reference']} · {r['organisation']['name']}")
        canvas.drawRightString(A4[0] - 1.8 * cm, 1.2 * cm, f"page {doc.page}")
        canvas.restoreState()

    SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=1.8 * cm,
        rightMargin=1.8 * cm,
        topMargin=1.6 * cm,
        bottomMargin=1.8 * cm,
        title=f"Distillation campaign report {c['cluster_id']}",
        author=r["organisation"]["name"],
        invariant=1,
    ).build(story, onFirstPage=footer, onLaterPages=footer)
