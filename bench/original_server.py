"""The original course server's design, rewritten from its description, as a benchmark baseline.

One thread per client; each thread does recv(200) and relays every chunk, plus a newline,
to every other client with blocking sends from its own thread. It is kept faithful on
purpose, flaws included: chunks split or merge messages, and one client that stops reading
blocks the sender's thread, and with it the room. Do not use it for anything but measuring.

    python bench/original_server.py [--port 5000]
"""

from __future__ import annotations

import argparse
import socket
import threading

TAM_BUFFER = 200


def serve(port: int) -> None:
    clients: list[socket.socket] = []
    lock = threading.Lock()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1024)
    print(f"listening on 127.0.0.1:{port}", flush=True)

    def handle(conn: socket.socket) -> None:
        while True:
            try:
                data = conn.recv(TAM_BUFFER)
            except OSError:
                data = b""
            if not data:
                break
            with lock:
                others = [c for c in clients if c is not conn]
            for other in others:
                try:
                    other.sendall(data + b"\n")  # blocks while that client does not read
                except OSError:
                    pass
            if b"#LOGOUT" in data:
                break
        with lock:
            if conn in clients:
                clients.remove(conn)
        conn.close()

    while True:
        conn, _ = server.accept()
        with lock:
            clients.append(conn)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    try:
        serve(args.port)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
