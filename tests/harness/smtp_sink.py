"""SMTP server for echodesk's tests: accepts mail on 127.0.0.1, stores each
message as NNNNNNNN.eml with a JSON line in log.jsonl, and can be told to
answer with an error: each line of the file `script` (if present) is the
reply for one DATA command, used in order ("451 try later", "550 no such
user", or "250" to accept); writing the file again starts from its first
line. The sink only reads it, so tests may own it. A file `delay` holding
seconds (e.g. "0.2") makes every DATA wait that long before its answer: a
slow server, so a test can kill a sender mid-run. Standard library plus
aiosmtpd."""

import argparse
import asyncio
import json
import os
import signal
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, spool):
        self.spool = spool
        self.lock = threading.Lock()
        self.count = len([n for n in os.listdir(spool) if n.endswith(".eml")])
        self.script_stamp = None
        self.script_pos = 0

    def scripted_reply(self):
        path = os.path.join(self.spool, "script")
        with self.lock:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                return None
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self.script_stamp:
                self.script_stamp, self.script_pos = stamp, 0
            with open(path) as f:
                lines = [l.strip() for l in f.read().splitlines() if l.strip()]
            if self.script_pos >= len(lines):
                return None
            self.script_pos += 1
            return lines[self.script_pos - 1]

    def delay(self):
        try:
            with open(os.path.join(self.spool, "delay")) as f:
                return max(0.0, float(f.read().strip() or 0))
        except (OSError, ValueError):
            return 0.0

    async def handle_DATA(self, server, session, envelope):
        pause = self.delay()
        if pause:
            await asyncio.sleep(pause)
        reply = self.scripted_reply()
        if reply and not reply.startswith("250"):
            return reply
        with self.lock:
            self.count += 1
            name = "%08d.eml" % self.count
            with open(os.path.join(self.spool, name), "wb") as f:
                f.write(envelope.original_content or envelope.content)
            entry = {
                "file": name,
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "tls": session.ssl is not None,
            }
            with open(os.path.join(self.spool, "log.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")
        return "250 2.0.0 stored as " + name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--spool", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--ready", help="write the port here once it is bound")
    a = ap.parse_args()
    tls = None
    if a.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.cert, a.key)
    sink = Sink(a.spool)

    class Ctl(Controller):
        def factory(self):
            return SMTP(self.handler, tls_context=tls, require_starttls=False,
                        auth_require_tls=False, decode_data=False, enable_SMTPUTF8=True)

    ctl = Ctl(sink, hostname="127.0.0.1", port=a.port)
    ctl.start()  # raises if the port is taken: the harness tries another
    if a.ready:
        tmp = a.ready + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d\n" % (a.port, os.getpid()))
        os.rename(tmp, a.ready)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    ctl.stop()


if __name__ == "__main__":
    main()
