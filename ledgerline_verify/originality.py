"""The originality link: the work's melody copies no training piece past the limit its signed
originality report was made with."""

from typing import Any

from ledgerline_verify.verdict import Broken, Check, Link


def originality_check(manifest: dict[str, Any]) -> Check:
    link = Link("originality")
    with link as details:
        report = manifest.get("originality") or {}
        details.update(report)
        if "longest_melody_run" not in report:
            details["reason"] = "no melody to compare (a sound work)"
        else:
            run, limit = int(report["longest_melody_run"]), report.get("limit") or 16
            if run > int(limit):
                raise Broken(f"Its melody repeats {run} intervals of a training piece verbatim (the limit is {limit}).")
            details["reason"] = f"its longest run of a training melody is {run} intervals (the limit is {limit})"
    return link.check
