"""A Fluentd forward-protocol receiver for the tests: no Fluentd can be installed on this machine,
so this decodes the real wire format (msgpack, Forward protocol v1: Message, Forward,
PackedForward and CompressedPackedForward modes, EventTime, chunk acks) as in_forward does."""
from __future__ import annotations

import gzip
import socket
import struct
import threading

import msgpack


def _time(value):
    if isinstance(value, msgpack.ExtType) and value.code == 0:  # EventTime: seconds, nanoseconds
        seconds, nanos = struct.unpack(">II", value.data)
        return seconds + nanos / 1e9
    return value


class ForwardReceiver:
    def __init__(self):
        self.records: list[tuple[str, float, dict]] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self):
        self.server.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn):
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        with conn:
            conn.settimeout(5)
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                unpacker.feed(data)
                for message in unpacker:
                    self._message(conn, message)

    def _message(self, conn, message):
        tag, body = message[0], message[1]
        if isinstance(body, (bytes, bytearray)):  # PackedForward: [tag, entries, option?]
            option = message[2] if len(message) > 2 else {}
            if option.get("compressed") == "gzip":
                body = gzip.decompress(body)
            unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
            unpacker.feed(body)
            entries = list(unpacker)
        elif isinstance(body, list):  # Forward: [tag, [[time, record], ...], option?]
            option = message[2] if len(message) > 2 else {}
            entries = body
        else:  # Message: [tag, time, record, option?]
            option = message[3] if len(message) > 3 else {}
            entries = [[body, message[2]]]
        for time, record in entries:
            self.records.append((tag, _time(time), record))
        if "chunk" in (option or {}):
            conn.sendall(msgpack.packb({"ack": option["chunk"]}))

    def close(self):
        self._stop = True
        self.server.close()
        self._thread.join(timeout=2)
