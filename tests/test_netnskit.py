"""The multi-host test kit (tests/netnskit.py) on real namespaces: hosts reach each other
over TCP and not the machine's loopback, ``set_delay`` shows in round trips, ``capture``
sees what crossed a link, and ``close()`` (also after an exception) leaves no namespace,
link or process behind. Skipped where namespaces are unavailable (not root, no ``ip``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from typing import Iterator

import psutil
import pytest

from netnskit import PREFIX, Hosts, hosts, in_namespace, list_namespaces, netns_unavailable, remove_stale

__all__ = ["hosts"]  # the fixture, imported so pytest finds it here

PORT = 7000
ECHO_SERVER = r"""
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(8)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := conn.recv(1 << 16):
        conn.sendall(data)
    conn.close()
"""
# argv: address port message; prints the echo and the least of 5 one-byte round trips in ms;
# exits 3 when the connection is refused
CLIENT = r"""
import socket, sys, time
try:
    conn = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
except ConnectionRefusedError:
    sys.exit(3)
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for _ in range(5):
    start = time.monotonic()
    conn.sendall(b"x")
    assert conn.recv(1) == b"x"
    rtts.append(time.monotonic() - start)
message = sys.argv[3].encode()
conn.sendall(message)
echo = b""
while len(echo) < len(message):
    echo += conn.recv(1 << 16)
print(echo.decode(), min(rtts) * 1000)
"""
SLEEPER = "import time; print('ready', flush=True); time.sleep(600)"
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"
PARENT = "import subprocess, time; p = subprocess.Popen(['sleep', '600']); print(p.pid, flush=True); time.sleep(600)"


@pytest.fixture(autouse=True)
def _need_netns() -> None:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)


def start_echo(hs: Hosts, host: str) -> subprocess.Popen:
    server = hs.popen(host, [sys.executable, "-c", ECHO_SERVER, hs.addresses[host], str(PORT)],
                      stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline() == "ready\n"
    return server


def client(hs: Hosts, host: str, address: str, message: str = "ping", port: int = PORT) -> tuple[int, str, float]:
    """(exit code, echo, least round trip in ms) of CLIENT run on ``host``."""
    done = hs.run(host, [sys.executable, "-c", CLIENT, address, str(port), message],
                  capture_output=True, text=True, timeout=30)
    assert done.returncode in (0, 3), done.stderr
    if done.returncode:
        return done.returncode, "", 0.0
    echo, rtt = done.stdout.split()
    return 0, echo, float(rtt)


def gone(pid: int) -> bool:
    """The process no longer runs (a zombie waiting for a reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def readline(proc: subprocess.Popen) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


@pytest.fixture
def root_loopback_server() -> Iterator[int]:
    """A listening TCP socket on 127.0.0.1 in the root namespace; yields its port."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        yield srv.getsockname()[1]


def test_hosts_reach_each_other_over_tcp(hosts: Hosts) -> None:
    assert sorted(hosts.addresses) == ["coord", "w1", "w2"]
    assert len(set(hosts.addresses.values())) == 3
    assert len(set(hosts.namespaces.values())) == 3
    start_echo(hosts, "w1")
    start_echo(hosts, "w2")
    assert client(hosts, "coord", hosts.addresses["w1"], "to-w1")[:2] == (0, "to-w1")
    assert client(hosts, "coord", hosts.addresses["w2"], "to-w2")[:2] == (0, "to-w2")
    assert client(hosts, "w2", hosts.addresses["w1"], "w2-to-w1")[:2] == (0, "w2-to-w1")


def test_root_loopback_is_not_reachable_from_a_host(hosts: Hosts, root_loopback_server: int) -> None:
    with socket.create_connection(("127.0.0.1", root_loopback_server), timeout=5):
        pass  # reachable from the root namespace itself
    # a host's 127.0.0.1 is its own loopback, where nothing listens on that port
    assert client(hosts, "coord", "127.0.0.1", port=root_loopback_server)[0] == 3


def test_set_delay_shows_in_round_trips(hosts: Hosts) -> None:
    start_echo(hosts, "w1")
    assert client(hosts, "coord", hosts.addresses["w1"])[2] < 15
    hosts.set_delay(20)
    code, echo, rtt = client(hosts, "coord", hosts.addresses["w1"], "delayed")
    assert (code, echo) == (0, "delayed") and rtt >= 38  # two one-way trips of 20 ms
    hosts.set_delay(30)
    assert client(hosts, "w2", hosts.addresses["w1"])[2] >= 58
    hosts.set_delay(0)
    assert client(hosts, "coord", hosts.addresses["w1"])[2] < 15


def test_delay_carries_bulk_data(hosts: Hosts) -> None:
    """Large (GSO) frames pass the delaying switch intact."""
    start_echo(hosts, "w1")
    hosts.set_delay(5)
    marker = "bulk" * 25_000  # 100 kB: many full-size and GSO frames
    assert client(hosts, "coord", hosts.addresses["w1"], marker)[:2] == (0, marker)


def test_capture_sees_a_marker_between_hosts(hosts: Hosts) -> None:
    start_echo(hosts, "w1")
    with hosts.capture("w1") as cap:
        assert client(hosts, "coord", hosts.addresses["w1"], "MARKER-5e1f0c")[0] == 0
    assert cap.payload().count(b"MARKER-5e1f0c") == 2  # sent and echoed
    assert cap.packets > 0
    assert {(seg[0], seg[2]) for seg in cap.segments} == {
        (hosts.addresses["coord"], hosts.addresses["w1"]), (hosts.addresses["w1"], hosts.addresses["coord"])}


def test_close_removes_namespaces_links_and_processes() -> None:
    with Hosts(("a", "b")) as hs:
        names = list(hs.namespaces.values()) + [hs.bridge_namespace]
        assert set(names) <= set(list_namespaces())
        # held open, the namespace files keep the namespaces alive to look inside after close()
        fds = [os.open(f"/run/netns/{ns}", os.O_RDONLY) for ns in names]
        try:
            sleeper = hs.popen("a", [sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, text=True)
            stubborn = hs.popen("b", [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
            parent = hs.popen("b", [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
            assert readline(sleeper) == "ready" and readline(stubborn) == "ready"
            pids = [sleeper.pid, stubborn.pid, parent.pid, int(readline(parent))]
            hs.set_delay(5)
            hs.capture("a").__enter__()  # left open: close() must stop it
            hs.close()
            hs.close()  # idempotent
            assert all(gone(pid) for pid in pids)
            assert not set(names) & set(list_namespaces())
            for fd in fds:  # nothing but loopback is left in any of them
                assert [name for _, name in in_namespace(f"/proc/self/fd/{fd}", socket.if_nameindex)] == ["lo"]
        finally:
            for fd in fds:
                os.close(fd)
    assert not [t for t in threading.enumerate() if t.name.startswith("netnskit")]


def test_close_after_an_exception_in_the_with_block() -> None:
    with pytest.raises(ZeroDivisionError):
        with Hosts() as hs:
            names = list(hs.namespaces.values()) + [hs.bridge_namespace]
            sleeper = hs.popen("w1", [sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, text=True)
            assert readline(sleeper) == "ready"
            1 / 0
    assert gone(sleeper.pid)
    assert not set(names) & set(list_namespaces())
    with pytest.raises(KeyError):
        hs.popen("w1", ["true"])


def test_two_instances_at_once_are_disjoint() -> None:
    with Hosts(("a",)) as one, Hosts(("a",)) as two:
        assert one.subnet != two.subnet
        assert one.namespaces["a"] != two.namespaces["a"]
        assert all(ns.startswith(f"{PREFIX}{os.getpid()}-") for ns in [*one.namespaces.values(), *two.namespaces.values()])


def test_remove_stale_deletes_namespaces_of_dead_pids_only() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not psutil.pid_exists(dead.pid)
    stale, live = f"{PREFIX}{dead.pid}-0-br", f"{PREFIX}{os.getpid()}-9999-br"
    try:
        for ns in (stale, live):
            subprocess.run(["ip", "netns", "add", ns], check=True)
        assert stale in remove_stale()
        assert stale not in list_namespaces() and live in list_namespaces()
    finally:
        for ns in (stale, live):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
