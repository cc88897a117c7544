"""Authentication after OWASP's Authentication Cheat Sheet: names, throttles, password checks, device cookies.

- **Names** are normalised once (:func:`canonical_name`) and compared by :func:`name_key`
  (case-insensitive); names the server gives its own accounts (``admin``, ``edge-server-N``,
  ``meter-N``) are reserved.
- **The same work for unknown and known names** (:class:`PasswordChecker`): an unknown name or
  address is checked against a decoy keyfile encrypted with the keystore's own KDF and
  parameters, so a wrong password costs the same time whether the account exists or not.
  At most ``kdf_concurrency`` checks run at once (scrypt needs ~256 MiB each); up to
  ``kdf_queue`` wait, beyond that the server answers 503 instead of running out of memory.
- **Throttling without lock-out** (:class:`Throttle`, :class:`DeviceCookies`): each client address
  gets a budget of attempts per minute; failures are counted once per *account* (the keystore
  address, whatever identifier was typed: name or address). Past the account's budget only
  devices that signed in to it before (they hold a signed device cookie, OWASP's "device cookies"
  against online guessing) may keep trying, each with its own budget: an attacker elsewhere can
  exhaust the account's budget for new devices, never lock the owner out of a known one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from gridledger.ledger.chain import LocalSigner
from gridledger.ledger.keystore import Keystore, KeystoreEntry, KeystoreError

RESERVED = re.compile(r"^(admin|edge-server-\d+|meter-\d+)$")
"""Names of the server's own keystore accounts (compared on :func:`name_key`)."""


def canonical_name(name: str) -> str:
    """The one form a name is stored and shown in: Unicode NFKC, trimmed, inner spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).split())


def name_key(name: str) -> str:
    """What two names are compared on (case-insensitive)."""
    return canonical_name(name).casefold()


def is_reserved(name: str) -> bool:
    """True for the names of the server's own accounts (``admin``, ``edge-server-N``, ``meter-N``)."""
    return RESERVED.match(name_key(name)) is not None


class Busy(Exception):
    """Too many password checks are waiting; the client should retry later."""


class Throttle:
    """Sliding-window counters per key, in memory, with a bounded number of keys."""

    def __init__(self, window_s: float, limit: int, max_keys: int = 100_000) -> None:
        self.window_s = window_s
        self.limit = limit
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> deque[float]:
        q = self._hits.get(key)
        if q is None:
            if len(self._hits) >= self.max_keys:
                self._prune(now)
            q = self._hits[key] = deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def _prune(self, now: float) -> None:
        for k in [k for k, q in self._hits.items() if not q or q[-1] <= now - self.window_s]:
            del self._hits[k]
        if len(self._hits) >= self.max_keys:  # still full: forget the oldest half
            for k in sorted(self._hits, key=lambda k: self._hits[k][-1])[: len(self._hits) // 2]:
                del self._hits[k]

    def exhausted(self, key: str) -> bool:
        """True when ``key`` has used its budget in the current window."""
        with self._lock:
            return len(self._live(key, time.monotonic())) >= self.limit

    def hit(self, key: str) -> None:
        with self._lock:
            self._live(key, time.monotonic()).append(time.monotonic())

    def take(self, key: str) -> bool:
        """Record one use; False (and nothing recorded) when the budget is used up."""
        with self._lock:
            now = time.monotonic()
            q = self._live(key, now)
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` has budget again (at least 1)."""
        with self._lock:
            q = self._live(key, time.monotonic())
            return max(1, int(q[0] + self.window_s - time.monotonic()) + 1) if q else 1


class PasswordChecker:
    """Unlocks keystore accounts with the same work for unknown and known names, in bounded slots."""

    def __init__(self, keystore: Keystore, concurrency: int, queue: int) -> None:
        self.keystore = keystore
        kwargs: dict[str, object] = {"kdf": keystore.kdf}
        if keystore.iterations is not None:
            kwargs["iterations"] = keystore.iterations
        # A decoy with the keystore's KDF and parameters; its password is thrown away.
        self.decoy = Account.encrypt(secrets.token_bytes(32), secrets.token_urlsafe(32), **kwargs)
        self._slots = threading.BoundedSemaphore(concurrency)
        self._capacity = concurrency + queue
        self._inside = 0
        self._count_lock = threading.Lock()
        self.kdf_runs = 0
        """Key derivations run so far (one per check, known name or not)."""

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """A slot for one key derivation (sign-in or sign-up); :class:`Busy` when the queue is full."""
        with self._count_lock:
            if self._inside >= self._capacity:
                raise Busy
            self._inside += 1
        try:
            with self._slots:
                yield
        finally:
            with self._count_lock:
                self._inside -= 1

    def find(self, identifier: str) -> KeystoreEntry | None:
        try:
            return self.keystore.find(canonical_name(identifier))
        except KeystoreError:
            return None

    def check(self, entry: KeystoreEntry | None, password: str) -> LocalSigner | None:
        """The account's signer if ``password`` opens ``entry``; None otherwise (same work either way)."""
        data = self.decoy
        if entry is not None:
            try:
                data = json.loads(entry.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = self.decoy
        with self.slot():
            try:
                key = Account.decrypt(data, password)
            except ValueError:
                key = None
            finally:
                with self._count_lock:
                    self.kdf_runs += 1
        if entry is None or key is None:
            return None
        return LocalSigner(Account.from_key(key))


@dataclass(frozen=True)
class Device:
    """A device that signed in to ``account`` before (from a valid device cookie)."""

    account: str
    nonce: str


class DeviceCookies:
    """Signed device cookies (OWASP): ``base64(account|nonce|expiry).hmac``, keyed by a server secret.

    The secret lives in ``<data dir>/web/device-secret`` (mode 0600, from the OS's CSPRNG), so
    known devices stay known across restarts; deleting the file forgets every device.
    """

    COOKIE = "gl_device"

    def __init__(self, path: Path, days: float) -> None:
        self.max_age_s = int(days * 86400)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._secret = path.read_bytes()
        except FileNotFoundError:
            self._secret = secrets.token_bytes(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(self._secret)
        if len(self._secret) < 32:
            raise KeystoreError(f"{path}: the device-cookie secret is too short; delete the file to make a new one")

    def _mac(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._secret, payload, hashlib.sha256).digest()).decode().rstrip("=")

    def issue(self, account: str) -> str:
        payload = f"{account}|{secrets.token_urlsafe(16)}|{int(time.time()) + self.max_age_s}".encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._mac(payload)

    def read(self, cookie: str | None) -> Device | None:
        """The device a cookie names, if its signature holds and it has not expired."""
        if not cookie or len(cookie) > 512 or "." not in cookie:
            return None
        body, mac = cookie.rsplit(".", 1)
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            account, nonce, expiry = payload.decode().split("|")
            if int(expiry) < time.time():
                return None
        except ValueError:
            return None
        return Device(account, nonce)
