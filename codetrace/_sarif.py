"""SARIF 2.1.0, the format code-scanning services read (GitHub code scanning among them).

One run; the driver lists a reporting descriptor per rule in force plus codetrace's own
(unresolved candidates, file errors, bad directives), and each finding is a result pointing at
that descriptor by id and index. Paths under the working folder are relative URIs against
``%SRCROOT%`` (the working folder, given in ``originalUriBaseIds``); others are ``file:`` URIs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from codetrace import __version__
from codetrace._output import BUILT_IN_DESCRIPTIONS, Finding
from codetrace._report import Report
from codetrace._ruleset import Rule

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"


def _descriptor(rule_id: str, text: str, properties: dict[str, object]) -> dict[str, object]:
    return {
        "id": rule_id,
        "shortDescription": {"text": text.split(". ")[0].rstrip(".") + "."},
        "fullDescription": {"text": text},
        "defaultConfiguration": {"level": "warning"},
        "properties": properties,
    }


def _rule_text(rule: Rule) -> str:
    if rule.description:
        return rule.description
    what = [*rule.calls[:3], *(f"{cls}()" for cls in rule.constructs[:3]), *rule.functions[:3]]
    more = len(rule.calls) + len(rule.constructs) + len(rule.functions) - len(what)
    return (f"Calls the {rule.advice} advice instruments: {', '.join(what)}"
            + (f" and {more} more" if more > 0 else "") + ".")


def _location(path: str) -> dict[str, object]:
    posix = Path(path).as_posix()
    if os.path.isabs(path):
        return {"uri": "file://" + quote(posix)}
    return {"uri": quote(posix), "uriBaseId": SRCROOT}


def sarif(report: Report, found: Sequence[Finding], rules: Sequence[Rule]) -> str:
    descriptors = [
        _descriptor(rule.id, _rule_text(rule),
                    {"advice": rule.advice, "source": rule.source.name,
                     "matches": [*rule.calls, *rule.constructs, *rule.functions]})
        for rule in sorted(rules, key=lambda r: r.id)
    ]
    descriptors += [_descriptor(rule_id, text, {})
                    for rule_id, text in sorted(BUILT_IN_DESCRIPTIONS.items())]
    index = {descriptor["id"]: number for number, descriptor in enumerate(descriptors)}
    results = []
    for item in found:
        if item.rule not in index:  # a rule no longer in force (a stale cache line): say so
            index[item.rule] = len(descriptors)
            descriptors.append(_descriptor(item.rule, f"Rule {item.rule}.", {}))
        region: dict[str, object] = {"startLine": max(item.line, 1)}
        if item.column:
            region["startColumn"] = item.column
        results.append({
            "ruleId": item.rule,
            "ruleIndex": index[item.rule],
            "level": item.level,
            "message": {"text": item.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": _location(item.path), "region": region}}],
        })
    cwd = Path.cwd().as_posix().rstrip("/") + "/"
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": "codetrace", "version": __version__,
                                "semanticVersion": __version__, "rules": descriptors}},
            "originalUriBaseIds": {SRCROOT: {"uri": "file://" + quote(cwd)}},
            "invocations": [{"executionSuccessful": report.errors == 0}],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
