"""DKIM helpers for Convene's tests: verification with dkimpy and zone-file parsing with dnspython.

Usage:
  dkim_verify.py verify --records RECORDS.json MESSAGE
  dkim_verify.py zone < ZONE_LINES

"verify" checks the first DKIM-Signature field of the message file with dkimpy.
Key lookups are answered from RECORDS.json, an object that maps DNS names
(with the trailing dot) to TXT record text, and never reach a DNS server. It
prints one JSON object: {"result": "pass"} or {"result": "fail", "reason": ...}.

"zone" parses zone-file lines from standard input with dnspython and prints
the TXT records as a JSON list of {"name": ..., "text": ...}, the strings of
each record joined as verifiers join them.

Both exit with status 0 when they could do their work, whatever the verdict,
and with status 2 on bad usage or input.
"""

import argparse
import json
import logging
import sys

import dkim
import dns.zone


class ListHandler(logging.Handler):
    """Logging handler that keeps the messages of every record it receives."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def verify(arguments):
    with open(arguments.records, encoding="utf-8") as records_file:
        records = json.load(records_file)
    with open(arguments.message, "rb") as message_file:
        message = message_file.read()

    def lookup(name, timeout=5):
        text = records.get(name.decode("ascii"))
        return text.encode("ascii") if text is not None else None

    logger = logging.getLogger("dkim_verify")
    logger.propagate = False
    handler = ListHandler()
    logger.addHandler(handler)
    verifier = dkim.DKIM(message, logger=logger)
    try:
        passed = verifier.verify(dnsfunc=lookup)
        reason = "; ".join(handler.messages) or "no DKIM-Signature field, or a signature that does not match"
    except dkim.DKIMException as error:
        passed = False
        reason = str(error)
    if passed:
        print(json.dumps({"result": "pass"}))
    else:
        print(json.dumps({"result": "fail", "reason": reason}))


def zone(_arguments):
    # A zone file needs a default TTL for lines without one. Its value does not matter here.
    text = "$TTL 3600\n" + sys.stdin.read()
    parsed = dns.zone.from_text(text, origin=".", relativize=False, check_origin=False)
    records = []
    for name, _ttl, rdata in parsed.iterate_rdatas("TXT"):
        joined = b"".join(rdata.strings).decode("ascii")
        records.append({"name": name.to_text(), "text": joined})
    print(json.dumps(records))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    verify_parser = commands.add_parser("verify")
    verify_parser.add_argument("--records", required=True)
    verify_parser.add_argument("message")
    verify_parser.set_defaults(run=verify)
    zone_parser = commands.add_parser("zone")
    zone_parser.set_defaults(run=zone)
    arguments = parser.parse_args()
    try:
        arguments.run(arguments)
    except (OSError, ValueError, dns.exception.DNSException) as error:
        print(f"dkim_verify.py {arguments.command} failed: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
