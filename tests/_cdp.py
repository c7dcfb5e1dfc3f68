"""A tiny headless-Chromium driver over the DevTools protocol on a pipe (no extra packages).

Chromium is started with ``--remote-debugging-pipe``: it reads JSON commands from fd 3 and
writes responses/events to fd 4, each message ending with a NUL byte.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
    "--enable-logging=stderr",
    "--v=0",
    "--remote-debugging-pipe",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _high(fd: int) -> int:
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


class Browser:
    """``with Browser() as b: page = b.open(url)`` — collects console errors and exceptions."""

    def __init__(self, binary: str | None = None, timeout: float = 60.0):
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise FileNotFoundError("chromium not found")
        self.timeout = timeout
        self._id = 0
        self._buf = b""
        self.events: list[dict] = []

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="winnow-chromium-")
        self.stderr_path = os.path.join(self.profile, "stderr.log")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # move Chromium's ends above fd 10 so the shell's "3<&N 4>&M" cannot clobber them
        to_chrome_r, from_chrome_w = (_high(to_chrome_r), _high(from_chrome_w))
        args = FLAGS + [f"--user-data-dir={self.profile}", "about:blank"]
        # bash puts our pipe ends on fds 3 and 4, where Chromium expects them
        script = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-'
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            ["bash", "-c", script, self.binary, *args],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=self._err,
            stderr=self._err,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        return self

    def __exit__(self, *exc):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._err.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- protocol ------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium exited (rc={self.proc.poll()}); see {self.stderr_path}")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout: float | None = None
    ) -> dict:
        self._id += 1
        mid = self._id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read_message(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str, session: str | None, timeout: float | None = None) -> dict:
        for i, e in enumerate(self.events):
            if e.get("method") == method and (session is None or e.get("sessionId") == session):
                return self.events.pop(i)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read_message(deadline)
            if m.get("method") == method and (session is None or m.get("sessionId") == session):
                return m
            self.events.append(m)

    # -- pages ---------------------------------------------------------------------
    def open(self, url: str, width: int = 1280, height: int = 900) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for m in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.send(m, session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session)
        return Page(self, session, width)


class Page:
    def __init__(self, browser: Browser, session: str, width: int):
        self.b, self.session, self.width = browser, session, width

    def eval(self, expression: str):
        r = self.b.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=self.session,
        )
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluation failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions, log errors and opened dialogs so far."""
        self.eval("1")  # flush pending events
        out = []
        for e in self.b.events:
            if e.get("sessionId") != self.session:
                continue
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append(
                    f"console.{p['type']}: "
                    + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", []))
                )
            elif m == "Runtime.exceptionThrown":
                out.append(
                    f"exception: {p.get('exceptionDetails', {}).get('text')} "
                    f"{p.get('exceptionDetails', {}).get('exception', {}).get('description', '')}"
                )
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log.{p['entry']['level']}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif m == "Page.javascriptDialogOpening":
                out.append(f"dialog ({p.get('type')}): {p.get('message')}")
                self.b.send("Page.handleJavaScriptDialog", {"accept": True}, session=self.session)
        return out

    def screenshot(self, path: str, max_height: int = 12000) -> tuple[int, int]:
        """Full-page PNG (height capped); returns (width, height)."""
        h = int(self.eval("Math.ceil(document.documentElement.scrollHeight)") or 900)
        h = min(h, max_height)
        self.b.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": h, "deviceScaleFactor": 1, "mobile": False},
            session=self.session,
        )
        r = self.b.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False}, session=self.session
        )
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(r["data"]))
        return self.width, h
