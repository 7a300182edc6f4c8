"""A TCP proxy on 127.0.0.1 that injects faults between echodesk and a
server, for echodesk's fault tests. Standard library only.

    fault_proxy.py TARGET_PORT CONTROL_FILE

Prints the port it listens on, then forwards each connection to
127.0.0.1:TARGET_PORT. CONTROL_FILE holds the mode, read when a connection
arrives (and every 50 ms for `down`); a missing file means `pass`:

    pass            forward both ways
    down            nothing listens: connections are refused
    reset           accept, then reset at once (RST)
    stall           accept, forward nothing, answer nothing
    garbage         answer with bytes that are no protocol, then close
                    (a TLS client's handshake fails)
    cut_up N        forward until N bytes went client -> server, then close
                    both sides (dropped mid-command)
    mute_down N     forward everything up, but stop passing the server's
                    answers after N bytes of them (the request arrived,
                    the reply is lost)

    mute_after_up N forward both ways until N bytes went up, then pass no
                    more answers (the message arrived; its 250 is lost)

A mode followed by `once` applies to one connection; the file then says
`pass` again.

Each accepted connection is logged as one line "MODE" in CONTROL_FILE.log.
"""

import os
import select
import socket
import struct
import sys
import threading
import time


lock = threading.Lock()


def mode_of(path, take=False):
    with lock:
        try:
            with open(path) as f:
                words = f.read().split()
        except FileNotFoundError:
            return ("pass", 0)
        if not words:
            return ("pass", 0)
        if take and words[-1] == "once":
            with open(path + ".tmp", "w") as f:
                f.write("pass")
            os.rename(path + ".tmp", path)
        n = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
        return (words[0], n)


def pump(client, server, mode, limit):
    up = 0
    down = 0
    socks = [client, server]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 60)
            if not r:
                continue
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                if s is client:
                    if mode == "cut_up" and up + len(data) >= limit:
                        server.sendall(data[: max(0, limit - up)])
                        return
                    up += len(data)
                    server.sendall(data)
                else:
                    if mode == "mute_after_up" and up >= limit:
                        continue
                    if mode == "mute_down" and down + len(data) > limit:
                        keep = max(0, limit - down)
                        if keep:
                            client.sendall(data[:keep])
                        down = limit
                        # Swallow the rest; the client waits for nothing.
                        socks = [client, server]
                        continue
                    down += len(data)
                    client.sendall(data)
    except OSError:
        return
    finally:
        for s in (client, server):
            try:
                s.close()
            except OSError:
                pass


def handle(conn, target, control):
    mode, n = mode_of(control, take=True)
    with open(control + ".log", "a") as log:
        log.write(mode + "\n")
    if mode == "reset":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        return
    if mode == "stall":
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass
        conn.close()
        return
    if mode == "garbage":
        try:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\nnot what you expected\r\n")
        except OSError:
            pass
        conn.close()
        return
    try:
        server = socket.create_connection(("127.0.0.1", target), timeout=10)
        server.settimeout(None)
    except OSError:
        conn.close()
        return
    pump(conn, server, mode, n)


def main():
    target = int(sys.argv[1])
    control = sys.argv[2]
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    print(port, flush=True)
    listener = None
    while True:
        mode, _ = mode_of(control)
        if mode == "down":
            if listener is not None:
                listener.close()
                listener = None
            time.sleep(0.05)
            continue
        if listener is None:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            for _ in range(100):
                try:
                    listener.bind(("127.0.0.1", port))
                    break
                except OSError:
                    time.sleep(0.05)
            listener.listen(64)
            listener.settimeout(0.05)
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        except OSError:
            continue
        conn.settimeout(None)
        threading.Thread(target=handle, args=(conn, target, control), daemon=True).start()


if __name__ == "__main__":
    main()
