"""The verification report as a PDF an auditor can file (the HTML one is a template)."""

from typing import Any

STATUS = {"pass": "PASS", "fail": "FAIL", "unknown": "?"}


def report_pdf(report: dict[str, Any]) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_title(f"Ledgerline verification {report['id']}")
    pdf.set_creator("Ledgerline")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, f"Verdict: {report['verdict']}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, _latin(report["summary"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    subject = report.get("subject") or {}
    for label, key in (
        ("File", "name"),
        ("SHA-256 of the file", "sha256"),
        ("Content hash", "content_sha256"),
        ("Token", "token_id"),
        ("Contract", "contract"),
    ):
        if subject.get(key) not in (None, ""):
            pdf.cell(0, 5, _latin(f"{label}: {subject[key]}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(0, 5, f"Verification {report['id']}, {report['created_at']}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    with pdf.table(col_widths=(28, 16, 146), text_align=("LEFT", "CENTER", "LEFT")) as table:
        table.row(["Link", "Result", "Reason"])
        for check in report.get("checks") or []:
            table.row([check["link"], STATUS.get(check["status"], check["status"]), _latin(check["reason"])])
    pdf.ln(4)
    pdf.multi_cell(
        0,
        5,
        _latin(
            "Reach the same verdict without Ledgerline: python -m ledgerline_verify FILE --rpc <chain node> "
            f"--ipfs <IPFS node> --contract {subject.get('contract', '<contract>')}"
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    return bytes(pdf.output())


def _latin(text: str) -> str:
    """The PDF's core font speaks Latin-1: other characters are shown as '?'."""
    return str(text).encode("latin-1", "replace").decode("latin-1")
