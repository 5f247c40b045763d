"""Several "hosts" on one machine for multi-host tests: Linux network namespaces joined
by veth links to one bridge, so a coordinator and its workers can talk TCP to each
other's addresses as if on separate machines. Not a container kit (the hosts share
files, users and PIDs with the test), not a network emulator beyond one fixed delay;
nothing routes out of it, so no traffic leaves the machine. Import it like the other
kits: ``from netnskit import Hosts, hosts`` (``hosts``: a fixture that skips when
``netns_unavailable()``). Layout of one ``Hosts``, ``<base>`` = ``netnskit-<pid>-<n>``::

    namespace <base>-br       : lo up, bridge br0, ports p0 p1 ... (up, enslaved to br0)
    namespace <base>-h-<name> : lo up, eth0 (veth peer of p<i>) with <subnet>.<i+1>/24

The root namespace is never touched: each veth pair is made inside the bridge
namespace with its peer moved straight into the host's.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import heapq
import itertools
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from typing import Any, Callable, Iterator, Sequence, TypeVar

import psutil
import pytest

PREFIX, NETNS_DIR, HOST_IFACE, BRIDGE, KILL_GRACE_S = "netnskit-", "/run/netns", "eth0", "br0", 5.0
CLONE_NEWNET, ETH_P_ALL, SOL_PACKET, PACKET_VNET_HDR, PACKET_OUTGOING, VNET_HDR = 0x40000000, 3, 263, 15, 4, 10
_STALE = re.compile(rf"^{re.escape(PREFIX)}(\d+)-")
_NAME = re.compile(r"^[A-Za-z0-9_.]{1,32}$")
_counter = itertools.count()
T = TypeVar("T")


# -- helpers ----------------------------------------------------------------------------------
def _ip(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Runs ``ip ARGS``; raises RuntimeError with its stderr when ``check`` and it fails."""
    done = subprocess.run(["ip", *args], input=stdin, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def list_namespaces() -> list[str]:
    """Names of all named network namespaces (``ip netns list``), any owner."""
    return [line.split()[0] for line in _ip("netns", "list", check=False).stdout.splitlines() if line.strip()]


def in_namespace(ns: str, fn: Callable[[], T]) -> T:
    """Calls ``fn()`` in a fresh thread that has joined network namespace ``ns`` (a name
    under /run/netns, or an absolute path such as /proc/self/fd/N) and returns its
    result; the caller's namespace is unchanged. Sockets ``fn`` makes stay in ``ns``."""
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            fd = os.open(ns if ns.startswith("/") else os.path.join(NETNS_DIR, ns), os.O_RDONLY)
            try:
                if hasattr(os, "setns"):  # Python 3.12+
                    os.setns(fd, CLONE_NEWNET)
                elif ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=body, name=f"netns-{ns}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _delete_namespace(ns: str) -> None:
    """SIGKILLs every process inside ``ns`` (never this one), then deletes it."""
    for word in _ip("netns", "pids", ns, check=False).stdout.split():
        if word.isdigit() and int(word) != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(word), signal.SIGKILL)
    _ip("netns", "del", ns, check=False)


def remove_stale() -> list[str]:
    """Deletes the namespaces of this kit (name prefix ``netnskit-<pid>-``) whose creating
    pid is no longer alive, killing any process left inside; returns their names. It
    does not touch namespaces of live test processes or of anything else."""
    removed = [ns for ns in list_namespaces() if (m := _STALE.match(ns)) and not psutil.pid_exists(int(m[1]))]
    for ns in removed:
        _delete_namespace(ns)
    return removed


@functools.cache
def netns_unavailable() -> str | None:
    """A one-line reason the multi-host tests must skip (not root; no ``ip``; a namespace,
    bridge, veth pair or AF_PACKET socket cannot be made), or None. Probes once per process."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = f"{PREFIX}{os.getpid()}-probe"
    try:
        _ip("netns", "add", probe)
        _ip("-n", probe, "-batch", "-", stdin=f"link add {BRIDGE} type bridge\nlink add vx0 type veth peer name vx1\n")
        _packet_socket(probe, "vx0", vnet=True).close()  # capture and set_delay need AF_PACKET
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"network namespaces unavailable: {str(exc).splitlines()[0]}"
    finally:
        _delete_namespace(probe)
    return None


# -- raw sockets: capture and the delay switch ----------------------------------------------
def _packet_socket(ns: str, iface: str, vnet: bool = False) -> socket.socket:
    """An AF_PACKET raw socket made inside namespace ``ns``, bound to ``iface`` (all
    protocols); with ``vnet`` each frame carries a virtio_net_hdr, so GSO frames pass."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, int(vnet))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((iface, 0))
        sock.setblocking(False)
        return sock

    return in_namespace(ns, make)


class _Reader:
    """A thread that hands every frame on some packet sockets to ``on_frame(index, data,
    pkttype)`` until stopped, then drains them and closes them; ``tick()`` runs each turn
    and returns the longest wait before the next."""

    def __init__(self, socks: list[socket.socket], on_frame: Callable[[int, bytes, int], None],
                 tick: Callable[[], float] = lambda: 0.05) -> None:
        self.socks, self.on_frame, self.tick = socks, on_frame, tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="netnskit-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _drain(self, ready: list[int]) -> None:
        for i in ready:  # non-blocking sockets: read each until empty
            with contextlib.suppress(BlockingIOError, InterruptedError):
                while True:
                    data, addr = self.socks[i].recvfrom(1 << 18)
                    self.on_frame(i, data, addr[2])

    def _main(self) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select(self.socks, [], [], max(0.0, min(0.05, self.tick())))
                self._drain([self.socks.index(s) for s in ready])
            self._drain(list(range(len(self.socks))))
        finally:
            [sock.close() for sock in self.socks]


class Capture:
    """What a raw AF_PACKET socket saw on one host's link interface while it was open:
    IPv4 TCP segments only (other frames are counted, not parsed). Not a pcap writer;
    a segment seen twice (same flow, sequence number and length) is kept once."""

    def __init__(self) -> None:
        self.packets = 0  # frames seen, any protocol, both directions
        self.segments: list[tuple[str, int, str, int, bytes]] = []  # src, sport, dst, dport, data
        self._seen: set[tuple[bytes, int, int]] = set()
        self._lock = threading.Lock()

    def payload(self) -> bytes:
        """The TCP payloads seen, concatenated in arrival order (all flows, both ways)."""
        with self._lock:
            return b"".join(seg[4] for seg in self.segments)

    def _frame(self, _index: int, frame: bytes, _pkttype: int) -> None:
        with self._lock:
            self.packets += 1
            if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[14] >> 4 != 4 or frame[23] != 6:
                return
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            tcp = ip[ihl:struct.unpack("!H", ip[2:4])[0] or len(ip)]  # tot_len 0 on some GSO frames
            sport, dport, seq = struct.unpack("!HHI", tcp[:8])
            data = tcp[(tcp[12] >> 4) * 4:]
            key = (ip[12:20] + tcp[:4], seq, len(data))
            if data and key not in self._seen:
                self._seen.add(key)
                self.segments.append((socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]), dport, data))


class _DelaySwitch:
    """A learning Ethernet switch in Python over the bridge namespace's ports, holding
    every frame ``ms`` before forwarding it: the stand-in for ``tc netem``, which this
    kernel may lack (CONFIG_NET_SCH_NETEM). Frames keep their order per port."""

    def __init__(self, ns: str, ports: list[str], ms: float) -> None:
        self.ms = ms
        self._heap: list[tuple[float, int, int, bytes]] = []
        self._seq = itertools.count()
        self._macs: dict[bytes, int] = {}
        socks = [_packet_socket(ns, port, vnet=True) for port in ports]
        self._reader = _Reader(socks, self._frame, self._forward_due)

    def _frame(self, index: int, data: bytes, pkttype: int) -> None:
        if pkttype != PACKET_OUTGOING:
            self._macs[data[VNET_HDR + 6:VNET_HDR + 12]] = index
            heapq.heappush(self._heap, (time.monotonic() + self.ms / 1000, next(self._seq), index, data))

    def _forward_due(self) -> float:
        now = time.monotonic()
        while self._heap and self._heap[0][0] <= now:
            _, _, src, data = heapq.heappop(self._heap)
            dst = self._macs.get(data[VNET_HDR:VNET_HDR + 6])
            socks = self._reader.socks
            for i in [dst] if dst is not None else range(len(socks)):
                if i != src:
                    with contextlib.suppress(OSError):  # a full or gone link drops, as a wire would
                        socks[i].send(data)
        return self._heap[0][0] - now if self._heap else 0.05


# -- hosts ------------------------------------------------------------------------------------
class Hosts:
    """Network namespaces joined by veth links to one bridge that lives in its own
    namespace (never the root namespace): each host has one address on a private /24
    (``<subnet>.<i+1>`` for the i-th name) and its loopback up; no route out, no link to
    the root namespace, and a host's 127.0.0.1 is its own. ``subnet`` is three octets
    ("10.213.7"); by default ``10.213.<k>``, ``k`` distinct per live instance in this
    process (the networks are isolated from each other anyway). A context manager;
    ``close()`` is idempotent and always removes every namespace, link and process it made."""

    def __init__(self, names: Sequence[str] = ("coord", "w1", "w2"), *, subnet: str | None = None) -> None:
        names = list(names)
        if not names or len(set(names)) != len(names) or not all(_NAME.match(n) for n in names):
            raise ValueError(f"host names must be distinct [A-Za-z0-9_.]{{1,32}}: {names}")
        remove_stale()
        n = next(_counter)
        base = f"{PREFIX}{os.getpid()}-{n}"
        self.subnet = subnet = subnet or f"10.213.{(os.getpid() + n) % 254 + 1}"
        self.bridge_namespace = f"{base}-br"
        self.namespaces: dict[str, str] = {name: f"{base}-h-{name}" for name in names}
        self.addresses: dict[str, str] = {name: f"{subnet}.{i + 1}" for i, name in enumerate(names)}
        self.interface = HOST_IFACE  # the link interface's name inside every host namespace
        self._ports: dict[str, str] = {name: f"p{i}" for i, name in enumerate(names)}
        self._made: list[str] = []  # namespaces created, in order
        self._procs: list[subprocess.Popen] = []
        self._readers: list[_Reader] = []  # open captures
        self._switch: _DelaySwitch | None = None
        self._closed = False
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        br = self.bridge_namespace
        for ns in [br, *self.namespaces.values()]:
            _ip("netns", "add", ns)
            self._made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        cmds = [f"link add {BRIDGE} type bridge stp_state 0", f"link set {BRIDGE} up"]
        for name, ns in self.namespaces.items():
            port = self._ports[name]
            cmds += [f"link add {port} type veth peer name {HOST_IFACE} netns {ns}",
                     f"link set {port} master {BRIDGE}", f"link set {port} up"]
        _ip("-n", br, "-batch", "-", stdin="\n".join(cmds) + "\n")
        for name, ns in self.namespaces.items():
            _ip("-n", ns, "-batch", "-", stdin=f"addr add {self.addresses[name]}/24 dev {HOST_IFACE}\n"
                f"link set {HOST_IFACE} up\n")

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ns(self, host: str) -> str:
        if self._closed or host not in self.namespaces:
            raise KeyError(f"no host {host!r} (hosts: {list(self.namespaces)}, closed: {self._closed})")
        return self.namespaces[host]

    def popen(self, host: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """Starts ``argv`` inside ``host``'s namespace (``ip netns exec NS argv``, which execs
        it, so the pid is argv's) in its own process group; ``close()`` kills the group
        (SIGTERM, up to 5 s, then SIGKILL) if it still runs. Popen keyword args pass on."""
        proc = subprocess.Popen(["ip", "netns", "exec", self._ns(host), *argv], **{**kwargs, "start_new_session": True})
        self._procs.append(proc)
        return proc

    def run(self, host: str, argv: Sequence[str], timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess:
        """Like ``subprocess.run`` inside ``host``'s namespace (``input``, ``check`` and
        ``capture_output`` understood); on timeout the process group is killed and
        ``subprocess.TimeoutExpired`` raised."""
        check, data = kwargs.pop("check", False), kwargs.pop("input", None)
        if data is not None:
            kwargs["stdin"] = subprocess.PIPE
        if kwargs.pop("capture_output", False):
            kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
        proc = self.popen(host, argv, **kwargs)
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except BaseException:
            self._kill([proc], grace_s=0)
            raise
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        return done.check_returncode() or done if check else done

    def set_delay(self, ms: float) -> None:
        """Delays every frame a host sends on its link by ``ms`` (0 removes the delay).
        Not ``tc netem`` on the hosts' eth0: this kernel has no netem (CONFIG_NET_SCH_NETEM
        unset). While ``ms > 0`` the bridge namespace's ports p0.. leave br0 and a Python
        learning switch (``_DelaySwitch``) forwards between them, holding each frame
        ``ms`` after it left a host's eth0. A frame from A to B crosses that switch once,
        so a one-way trip carries ``ms`` once and a round trip at least ``2 * ms``. A
        host's loopback is not delayed. With 0 the ports rejoin br0 (kernel speed)."""
        br, _ = self.bridge_namespace, self._ns(next(iter(self.namespaces)))  # raises when closed
        if ms > 0 and self._switch is not None:
            self._switch.ms = ms
        elif ms > 0:
            self._switch = _DelaySwitch(br, list(self._ports.values()), ms)
            _ip("-n", br, "-batch", "-", stdin="".join(f"link set {p} nomaster\n" for p in self._ports.values()))
        elif self._switch is not None:
            _ip("-n", br, "-batch", "-", stdin="".join(f"link set {p} master {BRIDGE}\n" for p in self._ports.values()))
            self._switch._reader.stop()
            self._switch = None

    @contextlib.contextmanager
    def capture(self, host: str) -> Iterator[Capture]:
        """Captures frames on ``host``'s eth0 (both directions) for the with-block; the
        raw socket is bound before the block starts and drained when it ends, so what
        the block sent and received is in ``Capture.payload()`` afterwards."""
        reader = _Reader([_packet_socket(self._ns(host), HOST_IFACE)], (cap := Capture())._frame)
        self._readers.append(reader)
        try:
            yield cap
        finally:
            reader.stop()
            self._readers[:] = [r for r in self._readers if r is not reader]

    def _kill(self, procs: list[subprocess.Popen], grace_s: float) -> None:
        """SIGTERM to each process group, wait up to ``grace_s`` for the leaders, then SIGKILL
        to every group (which also reaches children left behind by a leader that exited)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in procs:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
            deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 10)
            for proc in procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(max(0.0, deadline - time.monotonic()))
        for pipe in [p for proc in procs for p in (proc.stdin, proc.stdout, proc.stderr) if p]:
            with contextlib.suppress(OSError):  # pipes the caller left open
                pipe.close()

    def close(self) -> None:
        """Kills the processes started here (their groups), stops open captures, deletes
        the veth pairs and the bridge, then every namespace made; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._kill(self._procs, KILL_GRACE_S)
        finally:
            for reader in [*self._readers, *([self._switch._reader] if self._switch else [])]:
                reader.stop()
            if self.bridge_namespace in self._made:  # a veth pair goes with either end
                cmds = [f"link del {port}" for port in self._ports.values()] + [f"link del {BRIDGE}"]
                _ip("-n", self.bridge_namespace, "-force", "-batch", "-", stdin="\n".join(cmds) + "\n", check=False)
            for ns in reversed(self._made):
                _delete_namespace(ns)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    """Three hosts ("coord", "w1", "w2"), closed after the test; skips when unavailable."""
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    with Hosts() as made:
        yield made
