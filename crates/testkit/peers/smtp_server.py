"""SMTP server for Convene's tests: aiosmtpd on one address, writing each accepted message to a spool.

Usage: smtp_server.py --host IP --port PORT --spool DIR [--cert PEM --key PEM]

With --cert and --key the server offers STARTTLS but does not require it.
For every message it accepts, it writes one JSON file into DIR with the keys
mail_from, rcpt_tos, data (the message text), tls, tls_version, peer and local.
Each file is written under a temporary name and renamed, so that a reader never
sees a partial file. The server prints "ready" on stdout once it listens and
runs until it is killed.
"""

import argparse
import asyncio
import itertools
import json
import os
import ssl
import time

from aiosmtpd.smtp import SMTP


class SpoolHandler:
    """aiosmtpd handler that accepts every message and stores it as JSON."""

    def __init__(self, spool_dir):
        self.spool_dir = spool_dir
        self.sequence = itertools.count()

    async def handle_DATA(self, server, session, envelope):
        ssl_object = server.transport.get_extra_info("ssl_object")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.content.decode("utf-8", errors="replace"),
            "tls": session.ssl is not None,
            "tls_version": ssl_object.version() if ssl_object is not None else None,
            "peer": format_address(session.peer),
            "local": format_address(server.transport.get_extra_info("sockname")),
        }
        name = f"{time.time_ns():020d}-{next(self.sequence):06d}.json"
        temporary_path = os.path.join(self.spool_dir, name + ".tmp")
        with open(temporary_path, "w", encoding="utf-8") as spool_file:
            json.dump(record, spool_file)
        os.rename(temporary_path, os.path.join(self.spool_dir, name))
        return "250 2.0.0 Message accepted"


def format_address(address):
    """Format a socket address tuple as "ip:port" (IPv6 in brackets)."""
    host, port = address[0], address[1]
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


async def serve(arguments):
    tls_context = None
    if arguments.cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(arguments.cert, arguments.key)

    handler = SpoolHandler(arguments.spool)
    # An explicit hostname keeps aiosmtpd from calling socket.getfqdn(), which
    # would ask the system resolver.
    hostname = f"smtp-{arguments.host}.test"

    def make_protocol():
        return SMTP(
            handler,
            hostname=hostname,
            tls_context=tls_context,
            require_starttls=False,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(make_protocol, host=arguments.host, port=arguments.port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="IP address to listen on")
    parser.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    parser.add_argument("--spool", required=True, help="directory for the JSON message files")
    parser.add_argument("--cert", help="PEM certificate chain; enables STARTTLS")
    parser.add_argument("--key", help="PEM private key for --cert")
    arguments = parser.parse_args()
    if bool(arguments.cert) != bool(arguments.key):
        parser.error("--cert and --key must be given together")
    asyncio.run(serve(arguments))


if __name__ == "__main__":
    main()
