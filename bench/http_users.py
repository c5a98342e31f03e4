"""Creates the users of bench/http on `convene serve` or for Radicale, and writes the file
that bench/wrk/create_events.lua reads.

Usage:
  http_users.py convene PORT USERS OUT
      creates USERS users through POST /v1/users with the administrator token from the
      environment variable BENCH_ADMIN_TOKEN, and writes one line per user to OUT: the
      user's id, "Bearer " and their first API token, and their e-mail address.
  http_users.py htpasswd USERS HTPASSWD OUT
      writes a Radicale htpasswd file with a random password per user, hashed with
      bcrypt at cost 5, and writes one line per user to OUT: the user name (u0, u1, ...),
      "Basic " and the base64 credentials, and the e-mail address.
  http_users.py calendars PORT OUT
      creates /<user>/calendar/ with MKCALENDAR on Radicale for each user in OUT.

The lines of OUT separate their three fields with tabs. Each user's e-mail address is
u<N>@bench.test on both servers, so that both store the same attendees.
"""

import base64
import http.client
import json
import os
import secrets
import sys

import bcrypt

# The default cost of Apache's `htpasswd -B` (its manual page: -C, default 5), the command
# that Radicale's htpasswd module documentation names for bcrypt entries.
BCRYPT_COST = 5

MKCALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>Calendar</D:displayname></D:prop></D:set>
</C:mkcalendar>
"""


def request(connection, method, path, body, headers, expected):
    """Sends one request and exits with the status and the start of the body unless the
    status is the expected one."""
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read().decode("utf-8", "replace")
    if response.status != expected:
        raise SystemExit(f"{method} {path} returned {response.status}, expected {expected}: {data[:300]}")
    return data


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as out:
        for fields in lines:
            out.write("\t".join(fields) + "\n")


def read_lines(path):
    with open(path, encoding="utf-8") as data:
        return [line.rstrip("\n").split("\t") for line in data if line.strip()]


def convene_users(port, count, out):
    admin_token = os.environ.get("BENCH_ADMIN_TOKEN")
    if not admin_token:
        raise SystemExit("BENCH_ADMIN_TOKEN is not set; set it to the token that convene serve was started with")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"}
    lines = []
    for number in range(count):
        email = f"u{number}@bench.test"
        body = json.dumps({"name": f"User {number}", "email": email, "time_zone": "UTC"})
        user = json.loads(request(connection, "POST", "/v1/users", body, headers, 201))
        lines.append((user["id"], f"Bearer {user['token']}", email))
    write_lines(out, lines)


def radicale_htpasswd(count, htpasswd, out):
    entries, lines = [], []
    for number in range(count):
        name = f"u{number}"
        password = secrets.token_urlsafe(18)
        digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_COST)).decode()
        entries.append(f"{name}:{digest}\n")
        credentials = base64.b64encode(f"{name}:{password}".encode()).decode()
        lines.append((name, f"Basic {credentials}", f"{name}@bench.test"))
    with open(htpasswd, "w", encoding="utf-8") as out_file:
        out_file.writelines(entries)
    write_lines(out, lines)


def radicale_calendars(port, out):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for name, authorization, _ in read_lines(out):
        headers = {"Authorization": authorization, "Content-Type": "application/xml; charset=utf-8"}
        request(connection, "MKCALENDAR", f"/{name}/calendar/", MKCALENDAR, headers, 201)
        # Radicale's built-in server closes the connection after each response.
        connection.close()


def main():
    command, arguments = (sys.argv[1] if len(sys.argv) > 1 else ""), sys.argv[2:]
    if command == "convene" and len(arguments) == 3:
        convene_users(int(arguments[0]), int(arguments[1]), arguments[2])
    elif command == "htpasswd" and len(arguments) == 3:
        radicale_htpasswd(int(arguments[0]), arguments[1], arguments[2])
    elif command == "calendars" and len(arguments) == 2:
        radicale_calendars(int(arguments[0]), arguments[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
