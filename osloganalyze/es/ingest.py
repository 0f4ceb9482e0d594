"""Bulk-index events: daily '<prefix>-YYYY.MM.DD' indices, ids that make re-runs idempotent."""
from __future__ import annotations

import base64
import functools
import hashlib
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from .. import schema
from ..errors import OslaError

UNDATED = "undated"  # index suffix for events without a timestamp


def index_name(prefix: str, event: dict) -> str:
    stamp = event.get(schema.TIMESTAMP)
    return f"{prefix}-{stamp[:4]}.{stamp[5:7]}.{stamp[8:10]}" if stamp else f"{prefix}-{UNDATED}"


def doc_id(event: dict) -> str:
    """From host, file and byte offset: the same event always gets the same id, so running an
    ingest twice, or again after a crash, overwrites instead of doubling.

    The id is the file's key (a hash of host and path) followed by the offset, so the ids of one
    file share a prefix and grow with it: Elasticsearch checks each explicit id against those it
    holds, and a random id per event made that check cost the node more CPU (benchmarks/README.md). (Standard
    input has no offsets that mean anything across runs; its events are keyed by time and text.)"""
    path = event.get(schema.LOG_FILE_PATH, "")
    offset = event.get(schema.LOG_OFFSET)
    if path != "-" and isinstance(offset, int) and 0 <= offset < _OFFSET_LIMIT:
        return _file_key(event.get(schema.HOST_NAME) or "", path) + \
            base64.urlsafe_b64encode(offset.to_bytes(_OFFSET_BYTES, "big")).translate(_IN_ORDER).decode()
    parts = [event.get(schema.HOST_NAME) or "", path]
    if path == "-":
        parts += [event.get(schema.TIMESTAMP) or "", event.get(schema.EVENT_ORIGINAL, "")]
    else:
        parts.append(str(offset if offset is not None else ""))
    digest = hashlib.blake2b("\0".join(parts).encode("utf-8", "replace"), digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()  # 22 characters: never a file's 20


_OFFSET_BYTES = 6  # 256 TB; 6 and 9 are multiples of 3, so the two parts encode without padding
_OFFSET_LIMIT = 1 << (8 * _OFFSET_BYTES)
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_IN_ORDER = bytes.maketrans(_BASE64, bytes(sorted(_BASE64)))  # the same 64 characters, in byte order


@functools.lru_cache(maxsize=4096)
def _file_key(host: str, path: str) -> str:
    digest = hashlib.blake2b(f"{host}\0{path}".encode("utf-8", "replace"), digest_size=9).digest()
    return base64.urlsafe_b64encode(digest).decode()


@dataclass
class IngestResult:
    indexed: int = 0
    rejected: int = 0
    retried: int = 0  # documents re-sent after the server answered 429 (too many requests)
    rejections: list[str] = field(default_factory=list)  # the first few, with the server's reason


class WritesBlocked(OslaError):
    """The server kept refusing writes (a flood-stage or read-only block) past the wait."""

    exit_code = 1


BLOCK_WAIT = 600.0  # seconds an ingest waits for a write block to be lifted before it stops
BLOCK_NOTE_EVERY = 60.0  # seconds between 'still blocked' lines


class _Sender:
    """Posts _bulk requests from a queue, in ``workers`` threads, so parsing (this process's
    CPU) and indexing (the server's) overlap. Items answered 429 are re-sent with exponential
    backoff; other failures are rejections. A lost connection stops every worker and is
    raised in the caller."""

    def __init__(self, client, workers: int, result: IngestResult, progress, max_retries: int = 8,
                 initial_backoff: float = 1.0, max_backoff: float = 30.0, warn=None, block_wait: float = BLOCK_WAIT):
        self.client = client
        self.warn = warn
        self.block_wait = block_wait
        self.blocked_since: float | None = None  # when the server first answered with a write block
        self.block_noted = 0.0
        self.result = result
        self.progress = progress
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.queue: queue.Queue = queue.Queue(maxsize=workers)  # bounded: memory stays flat
        self.lock = threading.Lock()
        self.failure: BaseException | None = None
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
        for thread in self.threads:
            thread.start()

    def put(self, chunk: list[tuple[bytes, bytes]]) -> None:
        while self.failure is None:
            try:
                self.queue.put(chunk, timeout=0.5)
                return
            except queue.Full:
                continue
        raise self.failure

    def close(self) -> None:
        """Stop the workers (each gets a None; after a failure a full queue drains by itself)."""
        for _ in self.threads:
            while True:
                try:
                    self.queue.put(None, timeout=0.5)
                    break
                except queue.Full:
                    if self.failure is not None:
                        break
        for thread in self.threads:
            thread.join()
        if self.failure is not None:
            raise self.failure

    def _work(self) -> None:
        while True:
            chunk = self.queue.get()
            if chunk is None or self.failure is not None:
                return
            try:
                self._send(chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self.failure = self.failure or exc
                return

    def _send(self, chunk: list[tuple[bytes, bytes]]) -> None:
        """A write block (cluster_block_exception: the flood-stage watermark, read_only_allow_delete)
        is said at once and waited out for ``block_wait`` seconds, however many retries that takes;
        other 429s (a busy node) are retried ``max_retries`` times."""
        delay = self.initial_backoff
        attempt = 0
        while True:
            lines = [line for pair in chunk for line in pair]
            items = self.client.bulk(lines, "items.*.status,items.*.error,items.*._id,items.*._index")["items"]
            again = []
            indexed = rejected = 0
            block = None
            for pair, item in zip(chunk, items):
                info = next(iter(item.values()))
                status = info.get("status", 500)
                if status < 300:
                    indexed += 1
                elif _is_block(info):
                    block = block or _rejection(item)
                    again.append(pair)
                elif status == 429 and attempt < self.max_retries:
                    again.append(pair)
                else:
                    rejected += 1
                    with self.lock:
                        if len(self.result.rejections) < 5:
                            self.result.rejections.append(_rejection(item))
            with self.lock:
                self.result.indexed += indexed
                self.result.rejected += rejected
                self.result.retried += len(again)
                done = self.result.indexed + self.result.rejected
            if self.progress is not None:
                self.progress(done)
            if not again:
                if block is None and self.blocked_since is not None:
                    with self.lock:
                        self.blocked_since = None
                return
            if block is not None:
                self._blocked(block)
            else:
                attempt += 1
            chunk = again
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    def _blocked(self, reason: str) -> None:
        """Say the block at once and every minute; give up past ``block_wait``."""
        now = time.monotonic()
        with self.lock:
            if self.blocked_since is None:
                self.blocked_since = now
                self.block_noted = now
                self._say(f"the server refuses writes: {reason}; retrying for up to {self.block_wait:.0f} s "
                          f"(free disk space on the nodes, or lift the block)")
            elif now - self.block_noted >= BLOCK_NOTE_EVERY:
                self.block_noted = now
                self._say(f"writes still blocked after {now - self.blocked_since:.0f} s: {reason}")
            waited = now - self.blocked_since
        if waited > self.block_wait:
            raise WritesBlocked(f"the server refused writes for {waited:.0f} s: {reason}. Nothing is lost or "
                                f"doubled: run the same command again once the block is lifted")

    def _say(self, text: str) -> None:
        if self.warn is not None:
            self.warn(text)


def ingest(client, events: Iterable[dict], prefix: str = "openstack", progress=None,
           chunk_size: int = 2000, workers: int = 2, warn=None, block_wait: float = BLOCK_WAIT) -> IngestResult:
    """Index every event (ids from doc_id, indices from index_name). Returns the counts;
    raises the client's exception when the server goes away (re-running is safe).

    2,000 events per request and two workers: the sizes benchmarks/ingest.py found best on the
    build machine (figures in benchmarks/README.md)."""
    result = IngestResult()
    sender = _Sender(client, workers, result, progress, warn=warn, block_wait=block_wait)
    chunk: list[tuple[bytes, bytes]] = []
    try:
        heads: dict[str, bytes] = {}  # index name -> the action line up to the id
        for event in events:
            index = index_name(prefix, event)
            head = heads.get(index)
            if head is None:
                head = heads[index] = b'{"index":{"_index":' + orjson.dumps(index) + b',"_id":"'
            chunk.append((head + doc_id(event).encode() + b'"}}', orjson.dumps(event)))
            if len(chunk) >= chunk_size:
                sender.put(chunk)
                chunk = []
        if chunk:
            sender.put(chunk)
    finally:
        sender.close()
    return result


def _is_block(info: dict) -> bool:
    error = info.get("error")
    return isinstance(error, dict) and error.get("type") == "cluster_block_exception"


def _rejection(item: dict) -> str:
    info: dict = next(iter(item.values()), {}) if isinstance(item, dict) else {}
    error = info.get("error", {})
    reason = error.get("reason", error) if isinstance(error, dict) else error
    return f"{info.get('_index')}/{info.get('_id')}: HTTP {info.get('status')}: {reason}"
