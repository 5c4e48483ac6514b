#!/usr/bin/env python3
"""A real SMTP server for tests: accepts every message and stores it as a file.

    python3 scripts/smtp_sink.py --dir DIR [--port 0] [--exit-on-stdin-eof]
                                 [--reject-rcpt ADDR ...]

Binds 127.0.0.1 (port 0 = a free port), prints the port number alone on the
first line of stdout, then stores each received message as DIR/NNNNNN-*.eml
(the message exactly as received) with DIR/NNNNNN-*.json beside it (the SMTP
envelope: mail_from, rcpt_tos). The .json is written first and the .eml is
renamed into place last, so a reader that sees the .eml sees a complete
message. With --reject-rcpt ADDR (repeatable) it refuses that recipient the
way a real server does (`550 5.1.1 <ADDR>: Recipient address rejected: User
unknown in virtual mailbox table`), and a message with no other recipient is
not delivered. Used by crates/testkit (SmtpSink); needs aiosmtpd (scripts/test
installs it).
"""

import argparse
import asyncio
import itertools
import json
import os
import sys
import threading
import uuid

from aiosmtpd.smtp import SMTP


class Store:
    def __init__(self, directory, reject=()):
        self.directory = directory
        self.counter = itertools.count(1)
        self.reject = {a.lower() for a in reject}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return (
                "550 5.1.1 <%s>: Recipient address rejected: "
                "User unknown in virtual mailbox table" % address
            )
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        seq = next(self.counter)
        stem = "%06d-%s" % (seq, uuid.uuid4().hex[:8])
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": str(session.peer),
        }
        json_path = os.path.join(self.directory, stem + ".json")
        with open(json_path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(meta, f)
        os.replace(json_path + ".tmp", json_path)
        eml_path = os.path.join(self.directory, stem + ".eml")
        content = envelope.original_content
        if content is None:
            content = envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        with open(eml_path + ".tmp", "wb") as f:
            f.write(content)
        os.replace(eml_path + ".tmp", eml_path)
        return "250 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="where to store messages")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--reject-rcpt",
        action="append",
        default=[],
        metavar="ADDR",
        help="refuse this recipient with 550 5.1.1 (repeatable)",
    )
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when stdin closes (the parent test process went away)",
    )
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    handler = Store(args.dir, args.reject_rcpt)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            # A fixed name: the default looks up the FQDN, which can hang
            # on a machine without DNS.
            hostname="smtp-sink.test",
            enable_SMTPUTF8=True,
            data_size_limit=50 * 1024 * 1024,
        ),
        host=args.host,
        port=args.port,
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)

    if args.exit_on_stdin_eof:

        def watch_stdin():
            try:
                sys.stdin.buffer.read()
            finally:
                os._exit(0)

        threading.Thread(target=watch_stdin, daemon=True).start()

    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
