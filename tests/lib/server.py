"""Starts and stops a real inferd process for the Python integration tests."""

import http.client
import json
import re
import signal
import subprocess
import threading
import time


class Server:
    """An inferd child process on a free loopback port; its stderr is kept."""

    def __init__(self, binary, model, class_index, extra_args=(), env=None, ready_timeout=60):
        self.log_lines = []
        args = [binary, "--addr", "127.0.0.1", "--port", "0", "--model", model, "--class-index", class_index,
                *extra_args]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self._port_found = threading.Event()
        self.port = None
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self._port_found.wait(ready_timeout):
            self.kill()
            raise RuntimeError("inferd did not start listening:\n" + self.log())
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            status, _, _ = self.request("GET", "/ready")
            if status == 200:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("inferd did not become ready:\n" + self.log())

    def _read_log(self):
        for line in self.proc.stderr:
            self.log_lines.append(line)
            m = re.search(r"listening on \S+ port (\d+)", line)
            if m:
                self.port = int(m.group(1))
                self._port_found.set()

    def log(self):
        return "".join(self.log_lines)

    def request(self, method, path, body=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, dict(resp.getheaders()), data
        except (ConnectionError, OSError):
            return None, {}, b""
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        try:
            return status, hdrs, json.loads(data)
        except ValueError:
            return status, hdrs, data

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def multipart(fields, boundary="inferdtestboundary7MA4YWxkTrZu0gW"):
    """fields: list of (name, filename or None, bytes). Returns (body, content_type)."""
    out = []
    for name, filename, data in fields:
        out.append(f"--{boundary}\r\n".encode())
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out.append(disp.encode() + b"\r\n")
        if filename is not None:
            out.append(b"Content-Type: application/octet-stream\r\n")
        out.append(b"\r\n" + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def raw_http(port, payload, timeout=10, read=True):
    """Sends raw bytes on a fresh connection and returns what came back."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        if not read:
            return b""
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except socket.timeout:
            pass
        return b"".join(chunks)
