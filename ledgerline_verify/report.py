"""A verdict as text for a terminal, and the exit status that goes with it."""

from typing import Any

MARK = {"pass": "ok  ", "fail": "FAIL", "unknown": "??  "}
EXIT = {"verified": 0, "failed": 1, "unknown": 3}


def text_report(report: dict[str, Any]) -> str:
    lines = [f"{report['verdict'].upper()}: {report['summary']}", ""]
    for check in report.get("checks") or []:
        lines.append(f"  {MARK.get(check['status'], check['status'])} {check['link']:<13} {check['reason']}")
    match = report.get("match")
    if match and match["kind"] == "watermark":
        lines += [
            "",
            f"  matched by watermark {match['payload']} ({match['method']}): token {match['token_id']}; "
            f"{match['bits_recovered']} of {match['code_bits']} code bits read, {match['errors_corrected']} "
            f"corrected, score {match['score']} (false match below {match['false_alarm']:.0e})",
        ]
        if match.get("registered"):
            lines.append(
                f"  token {match['token_id']}: {match['registered']['verdict']}: {match['registered']['summary']}"
            )
    elif match and match["kind"] == "training_data":
        stated = match.get("stated") or {}
        lines += ["", f"  training data: {match['reason']}"]
        if match.get("proof_verified"):
            lines.append(
                f"  root {match['merkle_root']}: anchored {match.get('anchored_at') or 'no'}; consent withdrawn "
                f"{match.get('consent_withdrawn_at') or 'no'}; as the proof states: "
                + (", ".join(f"{key} {value}" for key, value in stated.items()) or "nothing more")
            )
    elif match:
        lines += ["", f"  matched by {match['kind']}: token {match['token_id']} (score {match['score']})"]
    return "\n".join(lines)
