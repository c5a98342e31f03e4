"""Asks Radicale and `convene serve` the same free-busy question for each user and compares
both answers with the busy intervals that Scheduler::busy returned in-process.

Usage: BENCH_ADMIN_TOKEN=TOKEN caldav_freebusy.py DATA RADICALE_PORT CONVENE_PORT ROUNDS

DATA is the directory that `convene-bench freebusy` wrote. The script uploads each user's
u<N>.ics to Radicale at /u<N>/calendar/ (one PUT of the whole calendar), then asks each
server once per user and round: Radicale with a CalDAV free-busy-query REPORT (RFC 4791,
section 7.10), Convene with GET /v1/users/{id}/busy as the administrator, whose token
`convene serve` was started with and BENCH_ADMIN_TOKEN holds. Both run over one kept HTTP/1.1
connection each, from this process, so the client costs the same for both. It prints one
Markdown table row per server and the number of users for which each server's answer
differs from Scheduler::busy, and exits with status 1 if Convene's HTTP answer differs.

Answers are compared as sets of intervals after cutting them to the window and joining
intervals that touch, because a VFREEBUSY lists busy time inside the window with adjacent
periods joined, while Convene lists each occurrence that overlaps the window whole.
"""

import base64
import http.client
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

FREE_BUSY_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">
  <C:time-range start="{start}" end="{end}"/>
</C:free-busy-query>
"""


def parse_utc(text):
    """Parses an RFC 3339 instant (Convene) or an iCalendar UTC DATE-TIME (Radicale)."""
    if text.endswith("Z") and "-" not in text:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_duration(text):
    """Parses the iCalendar durations that a FREEBUSY period may use, such as PT1H30M."""
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-").removeprefix("P")
    days = seconds = 0
    number = ""
    in_time = False
    for char in text:
        if char == "T":
            in_time = True
        elif char.isdigit():
            number += char
        else:
            value = int(number)
            number = ""
            if char == "W":
                days += 7 * value
            elif char == "D":
                days += value
            elif in_time:
                seconds += value * {"H": 3600, "M": 60, "S": 1}[char]
    return sign * timedelta(days=days, seconds=seconds)


def normalize(intervals, window):
    """Cuts intervals to the window, sorts them and joins those that overlap or touch."""
    start, end = window
    cut = sorted((max(a, start), min(b, end)) for a, b in intervals if a < end and b > start)
    joined = []
    for a, b in cut:
        if joined and a <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], b))
        else:
            joined.append((a, b))
    return joined


def unfold(text):
    """Joins folded iCalendar content lines (RFC 5545, section 3.1)."""
    return text.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "")


def radicale_busy(body):
    """Returns the busy periods of the VFREEBUSY in a free-busy-query response."""
    periods = []
    for line in unfold(body).splitlines():
        name, _, value = line.partition(":")
        if name.split(";")[0].upper() != "FREEBUSY" or "FBTYPE=FREE" in name.upper():
            continue
        for period in value.split(","):
            first, second = period.split("/")
            start = parse_utc(first)
            if second.startswith(("P", "+P", "-P")):
                periods.append((start, start + parse_duration(second)))
            else:
                periods.append((start, parse_utc(second)))
    return periods


def timed(connection, method, path, body, headers):
    started = time.perf_counter()
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read().decode("utf-8")
    elapsed = time.perf_counter() - started
    if response.status >= 300:
        raise SystemExit(f"{method} {path} failed with status {response.status}: {data[:300]}")
    return data, elapsed


def percentile(times, p):
    ordered = sorted(times)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1] * 1e6


def main():
    data, radicale_port, convene_port, rounds = (
        Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    admin_token = os.environ.get("BENCH_ADMIN_TOKEN")
    if not admin_token:
        raise SystemExit("BENCH_ADMIN_TOKEN is not set; set it to the administrator token "
                         "that convene serve was started with (CONVENE_ADMIN_TOKEN)")
    convene_headers = {"Authorization": f"Bearer {admin_token}"}
    window_text = (data / "window.txt").read_text().split()
    window = (parse_utc(window_text[0]), parse_utc(window_text[1]))
    users = []
    for line in (data / "expected.tsv").read_text().splitlines():
        name, user_id, intervals = (line.split("\t") + [""])[:3]
        expected = [tuple(parse_utc(t) for t in i.split("/")) for i in intervals.split(",") if i]
        users.append((name, user_id, normalize(expected, window)))

    radicale = http.client.HTTPConnection("127.0.0.1", radicale_port, timeout=60)
    convene = http.client.HTTPConnection("127.0.0.1", convene_port, timeout=60)

    # Radicale runs without authentication on loopback; the user name in the Authorization
    # header only makes it the owner of its own /u<N>/ collections.
    def auth(name):
        token = base64.b64encode(f"{name}:x".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    started = time.perf_counter()
    for name, _, _ in users:
        ics = (data / f"{name}.ics").read_bytes()
        headers = {**auth(name), "Content-Type": "text/calendar; charset=utf-8"}
        timed(radicale, "PUT", f"/{name}/calendar/", ics, headers)
    upload = time.perf_counter() - started
    print(f"Uploaded {len(users)} calendars to Radicale in {upload:.1f} s", file=sys.stderr)

    start_text = window[0].strftime("%Y%m%dT%H%M%SZ")
    end_text = window[1].strftime("%Y%m%dT%H%M%SZ")
    query = FREE_BUSY_QUERY.format(start=start_text, end=end_text)
    from_to = f"from={window_text[0]}&to={window_text[1]}"
    radicale_times, convene_times = [], []
    mismatches = {"Radicale": 0, "convene serve": 0}
    for round_number in range(rounds):
        for name, user_id, expected in users:
            headers = {**auth(name), "Content-Type": "application/xml; charset=utf-8",
                       "Depth": "1"}
            body, elapsed = timed(radicale, "REPORT", f"/{name}/calendar/", query, headers)
            radicale_times.append(elapsed)
            body_convene, elapsed = timed(
                convene, "GET", f"/v1/users/{user_id}/busy?{from_to}", None, convene_headers)
            convene_times.append(elapsed)
            if round_number > 0:
                continue
            from_radicale = normalize(radicale_busy(body), window)
            from_convene = normalize(
                [(parse_utc(i["start"]), parse_utc(i["end"]))
                 for i in json.loads(body_convene)["busy"]], window)
            for server, answer in (("Radicale", from_radicale), ("convene serve", from_convene)):
                if answer != expected:
                    mismatches[server] += 1
                    missing = [i for i in expected if i not in answer][:3]
                    extra = [i for i in answer if i not in expected][:3]
                    print(f"{name}: {server} returned {len(answer)} busy intervals, "
                          f"Scheduler::busy {len(expected)}; missing {missing}, extra {extra}",
                          file=sys.stderr)
    for label, times in (("Radicale `free-busy-query` REPORT, HTTP", radicale_times),
                         ("`convene serve` `GET /v1/users/{id}/busy`, HTTP", convene_times)):
        print(f"| {label} | {len(times)} | {percentile(times, 50):.0f} | {percentile(times, 99):.0f} |")
    ratio = percentile(radicale_times, 50) / percentile(convene_times, 50)
    print(f"\nRadicale / convene serve, p50: {ratio:.1f}")
    for server, count in mismatches.items():
        print(f"Answers that differ from Scheduler::busy: {server} {count} of {len(users)} users")
    if mismatches["convene serve"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
