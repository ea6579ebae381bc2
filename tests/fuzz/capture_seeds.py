#!/usr/bin/python3
"""Captures the fuzzers' seed corpora from a real beanstalkd (and a real `beanpole export`).

    tests/fuzz/capture_seeds.py BEANSTALKD [BEANPOLE]

Starts BEANSTALKD on a free loopback port, drives it through a session that draws every reply
kind it can give, and writes under tests/fuzz/corpus/:
  reply_parser/  each reply exactly as the server sent it, and the whole session's reply stream
  stats/         the bodies of stats, stats-tube, stats-job, list-tubes, list-tubes-watched
  commands/      each command line the session sent, as "word args...\\n" then the put's body
  export_line/   each line `BEANPOLE export` wrote (when BEANPOLE is given)
The server is stopped by its PID. Replies no test server can be made to send (OUT_OF_MEMORY,
INTERNAL_ERROR, a put's `BURIED <id>`) are written by hand and named `synth-*`.
Run it again after a protocol change and commit the result; the fuzz targets only read it.
"""
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(beanstalkd):
    for _ in range(20):
        port = free_port()
        proc = subprocess.Popen([beanstalkd, "-l", "127.0.0.1", "-p", str(port), "-z", "1024"],
                                stderr=subprocess.DEVNULL)
        for _ in range(100):
            if proc.poll() is not None:
                break  # the port was taken in between: try another
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, port
            except OSError:
                time.sleep(0.02)
        proc.kill()
        proc.wait()
    sys.exit("beanstalkd did not start")


class Session:
    """One connection; every reply is read whole (line, then the announced body)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.stream = b""  # every reply of the session, in order

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                sys.exit("the server closed the connection")
            self.buf += data
        end = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:end], self.buf[end:]
        return line

    def _bytes(self, n):
        while len(self.buf) < n:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, command, body=None):
        """Sends `command` (and a put's body); returns the raw reply."""
        wire = command.encode() + b"\r\n"
        if body is not None:
            wire += body + b"\r\n"
        self.sock.sendall(wire)
        reply = self._line()
        words = reply.split()
        if words[0] in (b"OK", b"RESERVED", b"FOUND"):
            reply += self._bytes(int(words[-1]) + 2)
        self.stream += reply
        return reply


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def capture_server(beanstalkd):
    replies, commands, stats = {}, {}, {}
    proc, port = start_server(beanstalkd)
    try:
        s = Session(port)

        def run(name, command, body=None, keep_command=True):
            reply = s.send(command, body)
            replies.setdefault(name, reply)
            if keep_command:
                commands.setdefault(name, command.encode() + b"\n" + (body or b""))
            return reply

        def job_id(reply):
            return int(reply.split()[1])

        def body_of(reply):
            return reply.split(b"\r\n", 1)[1][:-2]

        run("using", "use fuzz-seeds")
        first = job_id(run("inserted", "put 1024 0 60 5", b"hello"))
        run("inserted-binary", "put 0 0 120 6", b"\x00\xff\r\n\x80 ")
        empty = job_id(run("inserted-empty", "put 4294967295 0 4294967295 0", b""))
        run("job-too-big", "put 0 0 60 1025", b"x" * 1025)
        run("watching", "watch fuzz-seeds")
        run("watching-one", "ignore default")
        run("not-ignored", "ignore fuzz-seeds")
        reserved = run("reserved", "reserve-with-timeout 0")
        stats["stats-job"] = body_of(run("ok-stats-job", f"stats-job {job_id(reserved)}"))
        run("touched", f"touch {job_id(reserved)}")
        run("released", f"release {job_id(reserved)} 10 0")
        reserved = run("reserved-binary", "reserve")
        run("buried", f"bury {job_id(reserved)} 5")
        run("found", "peek-buried")
        run("kicked-count", "kick 1")
        run("found-by-id", f"peek {first}")
        run("found-empty", f"peek {empty}")
        binary = run("reserved-again", "reserve-with-timeout 0")
        run("deleted", f"delete {job_id(binary)}")
        run("not-found", f"delete {job_id(binary)}")
        run("reserved-empty", f"reserve-job {empty}")
        run("bury-for-kick", f"bury {empty} 0", keep_command=False)
        run("kicked", f"kick-job {empty}")
        run("found-ready", "peek-ready")
        run("not-found-delayed", "peek-delayed")
        run("inserted-delayed", "put 7 3600 60 7", b"delayed")
        for command in ("stats", "stats-tube fuzz-seeds", "list-tubes", "list-tubes-watched"):
            word = command.split()[0]
            stats[word] = body_of(run("ok-" + word, command))
        run("using-list", "list-tube-used")
        run("paused", "pause-tube fuzz-seeds 0")
        run("unknown-command", "frobnicate")
        run("bad-format", "put 1 2", keep_command=False)
        # EXPECTED_CRLF: a body not followed by its CRLF.
        s.sock.sendall(b"put 0 0 60 3\r\nabcXY")
        replies["expected-crlf"] = s._line()
        s.stream += replies["expected-crlf"]

        # DEADLINE_SOON: a reserve while holding a job whose TTR (1 s) is about to run out.
        run("inserted-short-ttr", "put 0 0 1 4", b"soon", keep_command=False)
        run("reserved-short-ttr", "reserve-with-timeout 0", keep_command=False)
        run("deadline-soon", "reserve-with-timeout 5")

        # TIMED_OUT: a second connection that watches an empty tube only.
        other = Session(port)
        other.send("watch fuzz-empty")
        other.send("ignore default")
        replies["timed-out"] = other.send("reserve-with-timeout 0")

        # DRAINING: after SIGUSR1 the server refuses puts.
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)
        run("draining", "put 0 0 60 1", b"x", keep_command=False)
        replies["session"] = s.stream
    finally:
        proc.terminate()
        proc.wait()

    replies["synth-out-of-memory"] = b"OUT_OF_MEMORY\r\n"
    replies["synth-internal-error"] = b"INTERNAL_ERROR\r\n"
    replies["synth-buried-id"] = b"BURIED 42\r\n"
    return replies, commands, stats


def capture_export(beanstalkd, beanpole):
    proc, port = start_server(beanstalkd)
    env = dict(os.environ, BEANSTALKD_ADDR=f"127.0.0.1:{port}")
    try:
        def cli(*args, stdin=b""):
            return subprocess.run([beanpole, *args], input=stdin, env=env, check=True,
                                  stdout=subprocess.PIPE).stdout

        cli("put", "-t", "emails", "hello")
        cli("put", "-t", "emails", "-p", "0", "-r", "4294967295", "--", "")
        cli("put", "-t", "a.b-c+d/e;f$g_h(i)", "-p", "4294967295", "-d", "0", "-r", "1",
            stdin="utf-8: é ü ✓ 😀, quotes \" and \\ and \t tab\nnewline".encode())
        cli("put", "-t", "binary", stdin=b"\x00\x01\xfe\xff\xc3(\x80")  # not UTF-8: base64
        cli("put", "-t", "binary", stdin=b"\xed\xa0\x80")  # a surrogate: not UTF-8 either
        cli("put", "-t", "json", stdin=b'{"nested": [1, 2, {"body": "x"}]}')
        buried = cli("put", "-t", "buried", "-p", "7", "to bury").strip().decode()
        s = Session(port)
        s.send("watch buried")
        s.send(f"reserve-job {buried}")
        s.send(f"bury {buried} 7")
        lines = cli("export", "--all", "--buried").splitlines()
    finally:
        proc.terminate()
        proc.wait()
    return lines


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    replies, commands, stats = capture_server(sys.argv[1])
    for name, data in replies.items():
        write(os.path.join(CORPUS, "reply_parser"), name, data)
    for name, data in commands.items():
        write(os.path.join(CORPUS, "commands"), name, data)
    for name, data in stats.items():
        write(os.path.join(CORPUS, "stats"), name + "-1.12", data)
    if len(sys.argv) == 3:
        for i, line in enumerate(capture_export(sys.argv[1], sys.argv[2])):
            write(os.path.join(CORPUS, "export_line"), f"export-{i + 1}", line)


if __name__ == "__main__":
    main()
