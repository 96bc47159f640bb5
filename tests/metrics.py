"""Reading the metrics the functions published: Powertools prints them to stdout in the
CloudWatch embedded metric format, one JSON line per invocation."""

from __future__ import annotations

import json
from collections import Counter


def emitted_metrics(printed: str) -> Counter[str]:
    """Each metric's total over every metric line in ``printed`` (other lines are skipped)."""
    totals: Counter[str] = Counter()
    for line in printed.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                totals[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return totals
