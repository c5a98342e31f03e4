"""Prints the tables of bench/run from its raw measurements.

Usage: python3 report.py RUNS DKIM MESSAGES CONCURRENCY

RUNS has one line per run of a delivery contender: round (0 for contenders that run
once), label, then wall-clock, user and system seconds of the client and CPU seconds of
smtp-sink. DKIM has one line per algorithm and signer: the algorithm, the signer and the
microseconds per signature in each batch.
"""

import statistics
import sys
from collections import defaultdict

REFERENCE = "source-reuse"

# label, contender, connections, smtp-source run with the same connection use
DELIVERY_ROWS = [
    ("source-reuse", "smtp-source -d (reference)", "reused", "source-reuse"),
    ("source-new", "smtp-source", "one per message", "source-new"),
    ("convene-reuse", "Mail Broker", "reused, {concurrency} kept idle", "source-reuse"),
    ("convene-default", "Mail Broker, default pool", "reused, 2 kept idle", "source-reuse"),
    ("convene-new", "Mail Broker", "one per message", "source-new"),
    ("lettre-pool", "lettre, AsyncSmtpTransport pool", "reused", "source-reuse"),
    ("lettre-new", "lettre, no pool feature", "one per message", "source-new"),
    ("lettre-nodelay", "lettre, TCP_NODELAY by caller", "reused", "source-reuse"),
]

DKIM_ROWS = [
    ("primitive", "aws-lc-rs primitive over the message"),
    ("convene", "convene_mail::dkim::Signer::sign"),
    ("dkimpy", "dkimpy dkim.sign"),
]


def table(header, rows, text_columns):
    """Prints a Markdown table with the first `text_columns` columns left-aligned and the
    others, numbers, right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    separator = [
        "-" * width if i < text_columns else "-" * (width - 1) + ":"
        for i, width in enumerate(widths)
    ]
    for row in [header, separator, *rows]:
        cells = [
            str(cell).ljust(width) if i < text_columns else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        ]
        print("| " + " | ".join(cells) + " |")


def delivery(runs_path, messages, concurrency):
    rates = defaultdict(dict)  # label -> round -> messages per second
    client_cpu = defaultdict(list)  # label -> microseconds per message
    sink_cpu = defaultdict(list)
    with open(runs_path) as runs:
        for line in runs:
            round_number, label, real, user, system, sink = line.split()
            rates[label][int(round_number)] = messages / float(real)
            client_cpu[label].append((float(user) + float(system)) / messages * 1e6)
            sink_cpu[label].append(float(sink) / messages * 1e6)
    median_rate = {label: statistics.median(by_round.values()) for label, by_round in rates.items()}

    def ratio(label, base):
        """Returns the median of the ratios to `base` in the same round, which cancels load
        that changes from one round to the next. A contender that ran once is compared with
        the median of `base`."""
        shared = [r for r in rates[label] if r in rates[base]]
        if not shared:
            return median_rate[label] / median_rate[base]
        return statistics.median(rates[label][r] / rates[base][r] for r in shared)

    rows = []
    for label, name, connections, same in DELIVERY_ROWS:
        by_round = rates[label].values()
        rows.append(
            [
                name,
                connections.format(concurrency=concurrency),
                len(by_round),
                f"{median_rate[label]:.0f}",
                f"{min(by_round):.0f}–{max(by_round):.0f}",
                f"{ratio(label, REFERENCE):.2f}",
                f"{ratio(label, same):.2f}",
                f"{statistics.median(client_cpu[label]):.0f}",
                f"{statistics.median(sink_cpu[label]):.0f}",
            ]
        )
    table(
        ["contender", "connections", "runs", "msgs/s", "range", "× ref", "× same",
         "client CPU µs", "sink CPU µs"],
        rows,
        text_columns=2,
    )
    print()
    print("msgs/s: median of the runs, with the lowest and highest in range. × ref and × same:")
    print("median of the ratios, in the same round, to smtp-source -d and to smtp-source with the")
    print("same connection use. CPU µs: user and system CPU time per message, median of the runs.")
    print()
    for text, label, base in [
        ("Mail Broker (reused) / lettre pool", "convene-reuse", "lettre-pool"),
        ("Mail Broker (one per message) / lettre (one per message)", "convene-new", "lettre-new"),
        ("Mail Broker (reused) / lettre with TCP_NODELAY", "convene-reuse", "lettre-nodelay"),
    ]:
        print(f"{text}: {ratio(label, base):.2f}")


def dkim(dkim_path):
    batches = {}  # (algorithm, signer) -> microseconds per signature in each batch
    with open(dkim_path) as measurements:
        for line in measurements:
            algorithm, signer, *microseconds = line.split()
            batches[algorithm, signer] = [float(value) for value in microseconds]
    median = {key: statistics.median(values) for key, values in batches.items()}

    def ratio(algorithm, signer):
        """Returns the cost of `signer` relative to the primitive. Convene's batches
        alternate with the primitive's, so each is compared with the batch before it. dkimpy
        ran on its own and is compared with the median."""
        base = batches[algorithm, "primitive"]
        if signer == "convene":
            return statistics.median(a / b for a, b in zip(batches[algorithm, signer], base))
        return median[algorithm, signer] / median[algorithm, "primitive"]

    rows = []
    for signer, name in DKIM_ROWS:
        row = [name]
        for algorithm in ["rsa-2048", "ed25519"]:
            row += [f"{median[algorithm, signer]:.1f}", f"{ratio(algorithm, signer):.2f}"]
        rows.append(row)
    table(
        ["signer", "RSA-2048 µs", "× primitive", "Ed25519 µs", "× primitive"],
        rows,
        text_columns=1,
    )
    print()
    print("µs: median of the batches. × primitive: for Convene the median of the ratios to the")
    print("primitive's batch run just before, for dkimpy the ratio of the medians.")
    print()
    rsa = median["rsa-2048", "dkimpy"] / median["rsa-2048", "convene"]
    ed25519 = median["ed25519", "dkimpy"] / median["ed25519", "convene"]
    print(f"dkimpy / Convene: {rsa:.1f} with RSA-2048, {ed25519:.1f} with Ed25519")


def main():
    runs_path, dkim_path = sys.argv[1:3]
    messages, concurrency = int(sys.argv[3]), int(sys.argv[4])
    delivery(runs_path, messages, concurrency)
    print()
    print("DKIM signing: CPU time of the signing thread per signature")
    print()
    dkim(dkim_path)


if __name__ == "__main__":
    main()
