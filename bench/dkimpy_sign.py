"""Times dkimpy's dkim.sign on the message and keys that `convene-bench dkim` wrote.

Usage: python3 dkimpy_sign.py DIR ROUNDS RSA_BATCH ED25519_BATCH

Prints one line per algorithm, `ALGORITHM dkimpy MICROSECONDS...`: the CPU time of this
thread per signature in each of ROUNDS batches, as the Rust side measures it. The settings
match Convene's signer: relaxed/relaxed canonicalization and the same header fields.
"""

import sys
import time
from pathlib import Path

import dkim

SIGNED_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
]


def per_call(batch, sign):
    """Runs sign() batch times and returns the thread CPU time per call in microseconds."""
    start = time.thread_time()
    for _ in range(batch):
        sign()
    return (time.thread_time() - start) / batch * 1e6


def main():
    directory = Path(sys.argv[1])
    rounds, rsa_batch, ed25519_batch = (int(value) for value in sys.argv[2:5])
    message = (directory / "dkim.eml").read_bytes()
    cases = [
        ("rsa-2048", (directory / "rsa-2048.pem").read_bytes(), b"rsa-sha256", rsa_batch),
        # dkimpy takes an Ed25519 key as the base64 of its 32-octet private key.
        ("ed25519", (directory / "ed25519.seed").read_bytes().strip(), b"ed25519-sha256", ed25519_batch),
    ]
    for name, key, algorithm, batch in cases:

        def sign():
            return dkim.sign(
                message,
                b"bench",
                b"bench.test",
                key,
                canonicalize=(b"relaxed", b"relaxed"),
                signature_algorithm=algorithm,
                include_headers=SIGNED_HEADERS,
            )

        if not sign().startswith(b"DKIM-Signature:"):
            sys.exit(f"dkimpy returned no DKIM-Signature field for {name}")
        times = [per_call(batch, sign) for _ in range(rounds)]
        print(name, "dkimpy", " ".join(f"{time:.2f}" for time in times))


if __name__ == "__main__":
    main()
