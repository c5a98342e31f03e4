"""SMTP server for Convene's tests: aiosmtpd on one address, writing each accepted message to a spool.

Usage: smtp_server.py --host IP --port PORT --spool DIR [--cert PEM --key PEM]
                      [--implicit-tls] [--auth USER:PASSWORD [--auth-exclude MECH]...]
                      [--pipelining]

With --cert and --key the server offers STARTTLS but does not require it, or,
with --implicit-tls, speaks TLS from the first byte (port 465 style).
With --auth, AUTH is required before MAIL and accepts only USER with PASSWORD;
it is offered only over TLS. --auth-exclude removes a mechanism (PLAIN or
LOGIN) from the offer. --pipelining announces PIPELINING, which aiosmtpd
handles without announcing it.
RCPT TO is rejected with 550 5.1.1 for local parts starting with "reject" and
deferred with 452 4.2.2 for local parts starting with "busy".
For every message it accepts, it writes one JSON file into DIR with the keys
mail_from, rcpt_tos, data (the message text), tls, tls_version, tls_cipher,
auth_login (the authenticated user or null), peer and local.
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

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class SpoolHandler:
    """aiosmtpd handler that accepts every message and stores it as JSON."""

    def __init__(self, spool_dir, pipelining):
        self.spool_dir = spool_dir
        self.pipelining = pipelining
        self.sequence = itertools.count()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local_part = address.split("@", 1)[0]
        if local_part.startswith("reject"):
            return "550 5.1.1 no such user"
        if local_part.startswith("busy"):
            return "452 4.2.2 mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        ssl_object = server.transport.get_extra_info("ssl_object")
        auth_data = session.auth_data if session.authenticated else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.content.decode("utf-8", errors="replace"),
            "tls": ssl_object is not None,
            "tls_version": ssl_object.version() if ssl_object is not None else None,
            "tls_cipher": ssl_object.cipher()[0] if ssl_object is not None else None,
            "auth_login": auth_data.login.decode() if auth_data is not None else None,
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


def make_authenticator(user, password):
    """Return an aiosmtpd authenticator that accepts only USER with PASSWORD."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        valid = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False makes aiosmtpd send its own 535 reply on failure.
        return AuthResult(
            success=valid, handled=False, auth_data=auth_data if valid else None
        )

    return authenticate


async def serve(arguments):
    tls_context = None
    if arguments.cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(arguments.cert, arguments.key)

    handler = SpoolHandler(arguments.spool, arguments.pipelining)
    # An explicit hostname keeps aiosmtpd from calling socket.getfqdn(), which
    # would ask the system resolver.
    hostname = f"smtp-{arguments.host}.test"
    auth_options = {}
    if arguments.auth:
        user, password = arguments.auth.split(":", 1)
        auth_options = {
            "authenticator": make_authenticator(user, password),
            "auth_required": True,
            # aiosmtpd's check counts only TLS that began with STARTTLS. With
            # implicit TLS the whole connection is encrypted, so the check is off.
            "auth_require_tls": not arguments.implicit_tls,
            "auth_exclude_mechanism": arguments.auth_exclude,
        }

    def make_protocol():
        return SMTP(
            handler,
            hostname=hostname,
            tls_context=None if arguments.implicit_tls else tls_context,
            require_starttls=False,
            **auth_options,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        make_protocol,
        host=arguments.host,
        port=arguments.port,
        ssl=tls_context if arguments.implicit_tls else None,
    )
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
    parser.add_argument(
        "--implicit-tls", action="store_true", help="speak TLS from the first byte; needs --cert"
    )
    parser.add_argument("--auth", help="USER:PASSWORD required with AUTH before MAIL")
    parser.add_argument(
        "--auth-exclude", action="append", default=[], help="AUTH mechanism not to offer"
    )
    parser.add_argument("--pipelining", action="store_true", help="announce PIPELINING")
    arguments = parser.parse_args()
    if bool(arguments.cert) != bool(arguments.key):
        parser.error("--cert and --key must be given together")
    if arguments.implicit_tls and not arguments.cert:
        parser.error("--implicit-tls needs --cert and --key")
    if arguments.auth and ":" not in arguments.auth:
        parser.error("--auth takes USER:PASSWORD")
    asyncio.run(serve(arguments))


if __name__ == "__main__":
    main()
