"""Expands the recurrence cases with python-dateutil, as `convene-bench recurrence` does
with convene-recur: each rule from its DTSTART, in the year that starts there, and at most
LIMIT occurrences. Floating times are naive datetimes, which dateutil treats like UTC.

Usage: dateutil_expand.py CASES LIMIT COUNTS_OUT

Prints "rules occurrences seconds rejected" on standard output and writes one count per
rule (or "rejected") to COUNTS_OUT, in file order, so that the two expanders can be compared
rule by rule. Only the expansion is timed, not the parsing.
"""

import sys
import time
from datetime import datetime, timedelta

from dateutil.rrule import rrulestr


def main():
    cases, limit, counts_out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rules = []
    with open(cases, encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                start = datetime.strptime(fields[0], "%Y%m%dT%H%M%S")
                rules.append(rrulestr(fields[1], dtstart=start, cache=False))
            except ValueError:
                rules.append(None)

    counts = []
    occurrences = 0
    started = time.perf_counter()
    for rule in rules:
        if rule is None:
            counts.append("rejected")
            continue
        end = rule._dtstart + timedelta(days=365)
        count = 0
        for occurrence in rule:
            if occurrence >= end or count == limit:
                break
            count += 1
        occurrences += count
        counts.append(str(count))
    seconds = time.perf_counter() - started

    with open(counts_out, "w", encoding="utf-8") as out:
        out.write("\n".join(counts) + "\n")
    rejected = counts.count("rejected")
    print(len(rules) - rejected, occurrences, f"{seconds:.6f}", rejected)


if __name__ == "__main__":
    main()
