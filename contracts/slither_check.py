"""Run slither over gridledger's contracts, compiled by the pinned solc-js, and check the triage.

Usage: python contracts/slither_check.py [--slither PATH] [--json OUT]

crytic-compile's standard-JSON path ("solc-json") is fed with the same sources and settings as
contracts/compile.mjs; solc-standard-json.mjs stands in for a native solc binary. Every High or
Medium finding must match an entry of slither-triage.json (check + "Contract.function" prefix +
the reason it is not a vulnerability, mirrored in docs/ledger.md); an unexplained one fails the
run (exit 1). Low and informational findings are listed, not enforced. Only the standard
library is used, so this runs in slither's own virtualenv (its web3 pin clashes with ours).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENFORCED = ("High", "Medium")


def standard_json_input() -> dict:
    files = sorted((HERE / "src").glob("*.sol"))
    sources = {f"src/{p.name}": {"content": p.read_text(encoding="utf-8")} for p in files}
    return {"language": "Solidity", "sources": sources,
            "settings": {"evmVersion": "cancun", "optimizer": {"enabled": True, "runs": 200}}}


def where(finding: dict) -> str:
    """'Contract.function' (or 'Contract') of a finding's first element."""
    for e in finding.get("elements", []):
        fields = e.get("type_specific_fields", {})
        if e.get("type") == "function":
            return f"{fields.get('parent', {}).get('name', '?')}.{e['name']}"
        parent = fields.get("parent", {})
        if parent.get("type") == "function":
            contract = parent.get("type_specific_fields", {}).get("parent", {}).get("name", "?")
            return f"{contract}.{parent['name']}"
        if e.get("type") == "contract":
            return e["name"]
    return "?"


def explained(finding: dict, triage: list[dict]) -> dict | None:
    w = where(finding)
    for t in triage:
        if t["check"] == finding["check"] and w.startswith(t["where"]):
            return t
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    default = os.environ.get("SLITHER", str(HERE.parent / ".venv-slither" / "bin" / "slither"))
    ap.add_argument("--slither", default=default)
    ap.add_argument("--json", type=Path, default=None, help="also write slither's findings here")
    args = ap.parse_args()
    triage = json.loads((HERE / "slither-triage.json").read_text(encoding="utf-8"))["findings"]
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "input.json"
        out = Path(tmp) / "slither.json"
        inp.write_text(json.dumps(standard_json_input()), encoding="utf-8")
        cmd = [args.slither, str(inp), "--compile-force-framework", "solc-json",
               "--solc", str(HERE / "solc-standard-json.mjs"), "--solc-working-dir", str(HERE),
               "--json", str(out), "--disable-color"]
        proc = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
        if not out.exists():
            sys.stderr.write(proc.stdout + proc.stderr)
            print("slither did not run", file=sys.stderr)
            return 2
        report = json.loads(out.read_text(encoding="utf-8"))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    if not report.get("success", False):
        print(report.get("error"), file=sys.stderr)
        return 2
    findings = report["results"].get("detectors", [])
    unexplained = []
    rows = []
    for f in findings:
        t = explained(f, triage)
        rows.append((f["impact"], f["check"], where(f), "triaged" if t else "-"))
        if f["impact"] in ENFORCED and t is None:
            unexplained.append(f)
    counts: dict[tuple[str, str], int] = {}
    for impact, check, _, _status in rows:
        counts[(impact, check)] = counts.get((impact, check), 0) + 1
    print(f"{'impact':<14} {'check':<28} findings")
    for (impact, check), n in sorted(counts.items()):
        print(f"{impact:<14} {check:<28} {n}")
    enforced = [r for r in rows if r[0] in ENFORCED]
    print(f"high/medium: {len(enforced)} found, {len(enforced) - len(unexplained)} triaged "
          f"(contracts/slither-triage.json, docs/ledger.md), {len(unexplained)} unexplained")
    for f in unexplained:
        print(f"UNEXPLAINED {f['impact']} {f['check']} at {where(f)}:\n{f['description']}", file=sys.stderr)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
