"""A verdict as text for a terminal, and the exit status that goes with it."""

from typing import Any

MARK = {"pass": "ok  ", "fail": "FAIL", "unknown": "??  "}
EXIT = {"verified": 0, "failed": 1, "unknown": 3}


def text_report(report: dict[str, Any]) -> str:
    lines = [f"{report['verdict'].upper()}: {report['summary']}", ""]
    for check in report.get("checks") or []:
        lines.append(f"  {MARK.get(check['status'], check['status'])} {check['link']:<13} {check['reason']}")
    match = report.get("match")
    if match:
        lines += ["", f"  matched by {match['kind']}: token {match['token_id']} (score {match['score']})"]
    return "\n".join(lines)
