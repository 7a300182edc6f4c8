"""A stateful stand-in for Twilio's Programmable Messaging REST API
(2010-04-01), for echodesk's tests. Standard library only; binds to
127.0.0.1 and prints its port.

What it follows, as Twilio documents it:
  GET  /2010-04-01/Accounts/{AccountSid}/Messages.json
       filters To, From, DateSent, DateSent< (on or before), DateSent> (on
       or after), all day-granular in GMT; PageSize (max 1000); newest
       first; paging by next_page_uri with Page and an opaque PageToken
  POST /2010-04-01/Accounts/{AccountSid}/Messages.json
       form fields To, From or MessagingServiceSid, Body; 201 with the
       message resource, status queued (accepted with a service)
  GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
       each fetch moves an outbound message on: queued, sending, sent,
       delivered (or undelivered with error 30003 for numbers ending 0000)
  GET  .../Messages/{Sid}/Media.json and .../Media/{MediaSid}: MMS media
  HTTP Basic auth with the account SID and auth token (20003 on failure);
  errors as {"code", "message", "more_info", "status"}.

Control plane for the tests (not Twilio's): POST /_fake/inbound with a JSON
list of {"from", "to", "body", "date_sent" (unix), "media": [{"content_type",
"data" (base64)}]}, answered with {"added", "sids"}; POST /_fake/faults with {"status": 500|429, "times": N,
"retry_after": S}; GET /_fake/sent lists what was sent.
"""

import base64
import datetime
import email.utils
import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

ACCOUNT = sys.argv[1] if len(sys.argv) > 1 else "AC00000000000000000000000000000001"
TOKEN = sys.argv[2] if len(sys.argv) > 2 else "secret-token"
BASE = "/2010-04-01/Accounts/%s" % ACCOUNT

lock = threading.Lock()
messages = []  # newest last; each a dict (the resource) plus private keys
media = {}  # media sid -> (message sid, content_type, bytes)
faults = []  # [status, retry_after] per upcoming API request
counter = [0]


def sid(prefix):
    counter[0] += 1
    return prefix + hashlib.sha1(("%s%d" % (prefix, counter[0])).encode()).hexdigest()[:32]


def rfc2822(ts):
    return email.utils.formatdate(ts, usegmt=False).replace("-0000", "+0000")


def resource(m):
    out = {k: v for k, v in m.items() if not k.startswith("_")}
    return out


def new_message(frm, to, body, ts, direction, status, num_media=0):
    s = sid("MM" if num_media else "SM")
    m = {
        "account_sid": ACCOUNT,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": rfc2822(ts),
        "date_sent": rfc2822(ts) if direction == "inbound" else None,
        "date_updated": rfc2822(ts),
        "direction": direction,
        "error_code": None,
        "error_message": None,
        "from": frm,
        "messaging_service_sid": None,
        "num_media": str(num_media),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": s,
        "status": status,
        "subresource_uris": {"media": "%s/Messages/%s/Media.json" % (BASE, s)},
        "to": to,
        "uri": "%s/Messages/%s.json" % (BASE, s),
        "_ts": ts,
    }
    return m


def day(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).date()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message):
        self.reply(status, {"code": code, "message": message,
                            "more_info": "https://www.twilio.com/docs/errors/%d" % code,
                            "status": status})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authorised(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        except Exception:
            return False
        return user == ACCOUNT and pw == TOKEN

    def api_gate(self):
        """Auth, then any scripted fault. True if the request may go on."""
        if not self.authorised():
            self.error(401, 20003, "Authenticate")
            return False
        with lock:
            fault = faults.pop(0) if faults else None
        if fault:
            status, retry = fault
            if status == 429:
                self.error_with(429, 20429, "Too Many Requests", {"Retry-After": str(retry)})
            else:
                self.error(status, 20500, "Internal Server Error")
            return False
        return True

    def error_with(self, status, code, message, headers):
        self.reply(status, {"code": code, "message": message,
                            "more_info": "https://www.twilio.com/docs/errors/%d" % code,
                            "status": status}, headers)

    # --- GET ---------------------------------------------------------------
    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        if u.path == "/_fake/sent":
            with lock:
                out = [resource(m) for m in messages if m["direction"] != "inbound"]
            return self.reply(200, out)
        if u.path == BASE + "/Messages.json":
            if not self.api_gate():
                return
            return self.list_messages(u.path, q)
        if u.path.startswith(BASE + "/Messages/"):
            if not self.api_gate():
                return
            rest = u.path[len(BASE + "/Messages/"):]
            if rest.endswith("/Media.json"):
                msid = rest[: -len("/Media.json")]
                items = [
                    {"sid": k, "parent_sid": v[0], "content_type": v[1], "account_sid": ACCOUNT,
                     "uri": "%s/Messages/%s/Media/%s.json" % (BASE, v[0], k)}
                    for k, v in media.items() if v[0] == msid
                ]
                return self.reply(200, {"media_list": items, "page": 0, "page_size": 50,
                                        "next_page_uri": None, "uri": u.path})
            if "/Media/" in rest:
                msid = rest.split("/Media/")[1]
                if msid.endswith(".json"):
                    msid = msid[:-5]
                if msid not in media:
                    return self.error(404, 20404, "The requested resource was not found")
                _, ctype, data = media[msid]
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            msid = rest[:-5] if rest.endswith(".json") else rest
            with lock:
                m = next((m for m in messages if m["sid"] == msid), None)
                if m is None:
                    return self.error(404, 20404, "The requested resource /2010-04-01/Accounts/%s/Messages/%s.json was not found" % (ACCOUNT, msid))
                advance(m)
                return self.reply(200, resource(m))
        self.error(404, 20404, "The requested resource %s was not found" % u.path)

    def list_messages(self, path, q):
        try:
            size = min(int(q.get("PageSize", "50")), 1000)
            page = int(q.get("Page", "0"))
        except ValueError:
            return self.error(400, 20001, "Invalid paging")
        def keep(m):
            if "To" in q and m["to"] != q["To"]:
                return False
            if "From" in q and m["from"] != q["From"]:
                return False
            d = day(m["_ts"])
            for key, test in (("DateSent", lambda a, b: a == b), ("DateSent<", lambda a, b: a <= b),
                              ("DateSent>", lambda a, b: a >= b)):
                if key in q:
                    try:
                        want = datetime.date.fromisoformat(q[key])
                    except ValueError:
                        return False
                    if not test(d, want):
                        return False
            return True
        with lock:
            hits = [m for m in reversed(messages) if keep(m)]
        # The PageToken marks where the page starts; Page alone must match it.
        token = q.get("PageToken")
        start = page * size
        if token is not None and token != "PA%d" % start:
            return self.error(400, 20001, "Invalid PageToken")
        chunk = hits[start:start + size]
        base_q = {k: v for k, v in q.items() if k not in ("Page", "PageToken", "PageSize")}
        def uri(p, tok=True):
            qq = dict(base_q)
            qq["PageSize"] = str(size)
            qq["Page"] = str(p)
            if tok and p > 0:
                qq["PageToken"] = "PA%d" % (p * size)
            return path + "?" + urlencode(qq)
        more = start + size < len(hits)
        self.reply(200, {
            "messages": [resource(m) for m in chunk],
            "end": start + len(chunk) - 1 if chunk else 0,
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "page": page,
            "page_size": size,
            "start": start,
            "uri": uri(page),
        })

    # --- POST --------------------------------------------------------------
    def do_POST(self):
        u = urlparse(self.path)
        raw = self.body()
        if u.path == "/_fake/inbound":
            items = json.loads(raw or b"[]")
            added = []
            with lock:
                for it in items:
                    n = len(it.get("media", []))
                    m = new_message(it["from"], it["to"], it.get("body", ""), it["date_sent"],
                                    "inbound", "received", n)
                    messages.append(m)
                    added.append(m["sid"])
                    for md in it.get("media", []):
                        media[sid("ME")] = (m["sid"], md["content_type"], base64.b64decode(md["data"]))
                messages.sort(key=lambda m: (m["_ts"], m["sid"]))
            return self.reply(200, {"added": len(items), "sids": added})
        if u.path == "/_fake/faults":
            f = json.loads(raw)
            with lock:
                for _ in range(f.get("times", 1)):
                    faults.append((f["status"], f.get("retry_after", 1)))
            return self.reply(200, {"queued": len(faults)})
        if u.path == BASE + "/Messages.json":
            if not self.api_gate():
                return
            if "application/x-www-form-urlencoded" not in self.headers.get("Content-Type", ""):
                return self.error(400, 20001, "Content-Type must be application/x-www-form-urlencoded")
            form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
            to = form.get("To", "")
            if not to:
                return self.error(400, 21604, "A 'To' phone number is required.")
            if not (to.startswith("+") and to[1:].isdigit() and 8 <= len(to) <= 16):
                return self.error(400, 21211, "The 'To' number %s is not a valid phone number." % to)
            if "From" not in form and "MessagingServiceSid" not in form:
                return self.error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
            body = form.get("Body", "")
            if not body:
                return self.error(400, 21602, "Message body is required.")
            if len(body) > 1600:
                return self.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
            import time
            with lock:
                m = new_message(form.get("From"), to, body, int(time.time()), "outbound-api",
                                "accepted" if "MessagingServiceSid" in form else "queued")
                m["messaging_service_sid"] = form.get("MessagingServiceSid")
                messages.append(m)
            return self.reply(201, resource(m))
        self.error(404, 20404, "The requested resource %s was not found" % u.path)


def advance(m):
    order = ["accepted", "queued", "sending", "sent"]
    if m["direction"] == "inbound" or m["status"] in ("delivered", "undelivered", "failed"):
        return
    if m["status"] in order[:-1]:
        m["status"] = order[order.index(m["status"]) + 1]
    elif m["status"] == "sent":
        if m["to"].endswith("0000"):
            m["status"], m["error_code"] = "undelivered", 30003
            m["error_message"] = "Unreachable destination handset"
        else:
            m["status"] = "delivered"
        m["date_sent"] = m["date_updated"]


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
