#!/usr/bin/env python3
"""Fault injection and concurrency for ezlb's state-changing commands (stdlib only).

    python3 Tests/hardening/faults.py --bin .build/debug/ezlb [--quick] [--figures FILE]

Part 1, kill points: each state-changing command is run once under `strace -f` to count its
write-like system calls (openat of a file under the test's directory, write, fsync, rename,
unlink, netlink sendmsg/sendto, setsockopt, which is how libiptc commits), then once per
call N with `strace -e inject=SYSCALL:signal=SIGKILL:when=N`: the process dies on entering
that call (the call is not made). After each kill the same command is run again: it must
succeed and leave what an uninterrupted run leaves (state files, the fake kernel or the
namespace's links, addresses, routes, iptables-legacy-save and ip xfrm), with no duplicate
or lost address, no leaked link, no temp file; a third run must report changed:false. The
fake-backend commands (ipam, ipvs, xfrm) run in a private state directory; the kernel ones
(bridge, snat, xfrm) inside network namespaces this script creates and always deletes:
nothing here touches the machine's own namespace.

Part 2, concurrency: 16 simultaneous runs on one state directory (EZLB_LOCK_TIMEOUT=0 and
the default) exit 0 or 75 only and leave a consistent state; a lock file held by this script
(fcntl.flock) makes a run exit 75 after EZLB_LOCK_TIMEOUT seconds, having written nothing.

Needs root (network namespaces), iproute2, iptables (the -legacy tools), strace. Every
subprocess has a timeout: a hang is a failure, never a stuck CI. Exit 0 when every invariant
holds, 1 otherwise (one line per failure, with the command that reproduces it), 2 when this
host cannot run the suite (not root, a tool missing, ptrace refused).

    --quick               every 3rd kill point, one round of each concurrency case
    --only SLUGS          e.g. br-connect,ipam (kill-point scenarios, conc-*, lk-*)
    --point SYSCALL:N     one kill point (with --only), e.g. --only br-connect --point sendmsg:9
    --part faults|concurrency|locks
    --keep                keep the work directory (kept anyway when something failed)
    --figures FILE        kill points per command and syscall, passes, failures as JSON

The binary is copied first, so a rebuild during the run changes nothing. The namespaces are
named ezlbfi-<pid>-<scenario>-<role> and deleted in finally (also on SIGTERM/SIGINT).
"""

import argparse
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

PID = os.getpid()
CMD_TIMEOUT = 30.0          # any single subprocess; ezlb runs take milliseconds
KILLED = (-signal.SIGKILL, 128 + signal.SIGKILL)
# The write-like calls a kill point can sit on. openat only counts when it opens something
# under the scenario's directory (state files, locks, temp files, the xtables lock).
KILL_SYSCALLS = ["openat", "write", "pwrite64", "fsync", "fdatasync", "rename", "renameat", "renameat2",
                 "unlink", "unlinkat", "sendmsg", "sendto", "setsockopt"]
TMP_RE = re.compile(r"^\..+\.tmp\.")
TIME_KEY_RE = re.compile(r"(_at|since|last_probe|_time)$")
# Lists whose order is meaningful (x_tables chains and rules); every other list is compared as a set.
ORDERED_KEYS = {"rules", "chains", "tables", "entries"}
# Counters that legitimately differ between an interrupted and an uninterrupted history.
COUNTER_KEYS = {"commits"}
EXIT_LOCKED = 75
RTM_TYPES = {"0x10": "RTM_NEWLINK", "0x11": "RTM_DELLINK", "0x12": "RTM_GETLINK", "0x13": "RTM_SETLINK",
             "0x14": "RTM_NEWADDR", "0x15": "RTM_DELADDR", "0x16": "RTM_GETADDR",
             "0x18": "RTM_NEWROUTE", "0x19": "RTM_DELROUTE", "0x1a": "RTM_GETROUTE"}


# ---------------------------------------------------------------------------------------------
# processes

class Result:
    def __init__(self, argv, rc, out, err, elapsed, timed_out, env=None):
        self.argv, self.rc, self.out, self.err, self.elapsed, self.timed_out = argv, rc, out, err, elapsed, timed_out
        self.env = env

    @property
    def json(self):
        try:
            v = json.loads(self.out)
            return v if isinstance(v, dict) else {}
        except ValueError:
            return {}

    def brief(self):
        if self.timed_out:
            return "timed out after %.0fs" % self.elapsed
        line = (self.err.strip().splitlines() or self.out.strip().splitlines() or [""])[-1]
        return "exit %s%s" % (self.rc, (": " + line[:200]) if line else "")


def run(argv, env=None, timeout=CMD_TIMEOUT, cwd=None, stdin_path=None):
    """Runs argv in its own session; past `timeout` the whole session is killed (by its id)."""
    t0 = time.monotonic()
    try:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=env, cwd=cwd, start_new_session=True)
        finally:
            if stdin_path:
                stdin.close()
    except OSError as e:
        return Result(argv, None, "", str(e), 0.0, False)
    try:
        out, err = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        timed_out = True
    return Result(argv, None if timed_out else p.returncode, out.decode("utf-8", "replace"),
                  err.decode("utf-8", "replace"), time.monotonic() - t0, timed_out, env)


def start(argv, env=None, cwd=None):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, start_new_session=True)


def finish(p, argv, t0, timeout=CMD_TIMEOUT):
    try:
        out, err = p.communicate(timeout=max(0.1, timeout - (time.monotonic() - t0)))
        to = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        to = True
    return Result(argv, None if to else p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                  time.monotonic() - t0, to)


# ---------------------------------------------------------------------------------------------
# canonical forms

def canon(v, key=None):
    """State or kernel JSON without times and counters; unordered lists sorted."""
    if isinstance(v, dict):
        return {k: ("<time>" if TIME_KEY_RE.search(k) else canon(x, k)) for k, x in v.items() if k not in COUNTER_KEYS}
    if isinstance(v, list):
        items = [canon(x) for x in v]
        return items if key in ORDERED_KEYS else sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
    return v


def diff(a, b, path=""):
    """A few lines saying where two canonical values differ (a: expected, b: got)."""
    if type(a) is not type(b):
        return ["%s: expected %s, got %s" % (path or "value", short(a), short(b))]
    if isinstance(a, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in b:
                out.append("%s.%s missing (expected %s)" % (path, k, short(a[k])))
            elif k not in a:
                out.append("%s.%s unexpected: %s" % (path, k, short(b[k])))
            elif a[k] != b[k]:
                out += diff(a[k], b[k], "%s.%s" % (path, k))
        return out
    if isinstance(a, list) and a != b:
        sa = [json.dumps(x, sort_keys=True) for x in a]
        sb = [json.dumps(x, sort_keys=True) for x in b]
        missing = [x for x in sa if x not in sb]
        extra = [x for x in sb if x not in sa]
        if not missing and not extra:
            return ["%s: order %s, expected %s" % (path, short(b), short(a))]
        parts = []
        if missing:
            parts.append("missing " + "; ".join(m[:160] for m in missing[:3]))
        if extra:
            parts.append("extra " + "; ".join(e[:160] for e in extra[:3]))
        return ["%s: %s" % (path, ", ".join(parts))]
    if a != b:
        return ["%s: expected %s, got %s" % (path, short(a), short(b))]
    return []


def short(v, n=160):
    s = json.dumps(v, sort_keys=True) if not isinstance(v, str) else v
    return s if len(s) <= n else s[:n] + "…"


# ---------------------------------------------------------------------------------------------
# namespaces (only ever the ones this script created; all deleted in finally/atexit)

class Namespaces:
    def __init__(self):
        self.live = set()
        self.mu = threading.Lock()

    def add(self, name):
        r = run(["ip", "netns", "add", name], timeout=10)
        if r.rc != 0:
            raise RuntimeError("ip netns add %s: %s" % (name, r.brief()))
        with self.mu:
            self.live.add(name)

    def delete(self, name):
        with self.mu:
            if name not in self.live:
                return
            self.live.discard(name)
        run(["ip", "netns", "del", name], timeout=10)

    def delete_all(self):
        for n in sorted(self.live):
            self.delete(n)


NS = Namespaces()


# ---------------------------------------------------------------------------------------------
# a world: one scenario's directory, state dir, namespaces

class World:
    def __init__(self, suite, slug, roles=(), backend=None):
        self.suite, self.slug = suite, slug
        self.dir = os.path.join(suite.workdir, slug)
        self.state = os.path.join(self.dir, "state")
        self.cfg = os.path.join(self.dir, "cfg")
        self.roles = list(roles)
        self.names = {r: "ezlbfi-%d-%s-%s" % (PID, slug, r) for r in self.roles}
        self.backend = backend or ("kernel" if self.roles else "fake")
        self.notes = {}

    def ns(self, role):
        return self.names[role]

    def env(self, extra=None):
        e = dict(self.suite.base_env)
        e.update(EZLB_STATE_DIR=self.state, EZLB_BACKEND=self.backend, XTABLES_LOCKFILE=os.path.join(self.dir, "xtables.lock"))
        if extra:
            for k, v in extra.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
        return e

    def reset(self):
        self.teardown()
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.state)
        os.makedirs(self.cfg)
        self.notes = {}
        for r in self.roles:
            NS.add(self.names[r])

    def teardown(self):
        for r in self.roles:
            NS.delete(self.names[r])

    def argv(self, args, strace=None, role="h"):
        base = list(strace or []) + [self.suite.bin] + list(args)
        if self.backend == "kernel":
            return ["ip", "netns", "exec", self.names[role]] + base
        return base

    def ezlb(self, args, strace=None, env=None, timeout=CMD_TIMEOUT, role="h"):
        e = dict(getattr(args, "env", {}))
        e.update(env or {})
        return run(self.argv(args, strace, role), env=self.env(e), timeout=timeout, cwd=self.cfg,
                   stdin_path=getattr(args, "stdin", None))

    def must(self, args, what=None, role="h", env=None):
        r = self.ezlb(args, role=role, env=env)
        if r.rc != 0:
            raise SetupError("%s: %s" % (what or " ".join(args), r.brief()))
        return r

    def ip(self, role, args):
        return run(["ip", "-n", self.names[role]] + list(args), timeout=10)

    def inns(self, role, args):
        return run(["ip", "netns", "exec", self.names[role]] + list(args), timeout=10)

    def sh(self, role, args, what=None):
        r = self.inns(role, args)
        if r.rc != 0:
            raise SetupError("%s: %s" % (what or " ".join(args), r.brief()))
        return r

    def write_cfg(self, name, text, mode=0o644):
        p = os.path.join(self.cfg, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def state_json(self, name):
        p = os.path.join(self.state, name)
        if not os.path.exists(p):
            return None
        with open(p) as f:
            return json.load(f)

    def cmdline(self, args, strace=None):
        env = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in sorted(self.env(getattr(args, "env", None)).items())
                       if k.startswith("EZLB_") or k.startswith("CNI_") or k == "XTABLES_LOCKFILE")
        stdin = " < %s" % shlex.quote(args.stdin) if getattr(args, "stdin", None) else ""
        return "cd %s && %s %s%s" % (shlex.quote(self.cfg), env, " ".join(shlex.quote(a) for a in self.argv(args, strace)), stdin)


class SetupError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# observations and invariants shared by scenarios

def state_file_problems(w, allow_tmp):
    """Every JSON state file parses and has the envelope; no temp file unless allowed."""
    out = []
    if not os.path.isdir(w.state):
        return ["state dir missing"]
    for name in sorted(os.listdir(w.state)):
        p = os.path.join(w.state, name)
        if TMP_RE.match(name):
            if not allow_tmp:
                out.append("leftover temp file %s" % name)
            continue
        if ".corrupt-" in name:
            out.append("state file set aside as corrupt: %s" % name)
            continue
        if not name.endswith(".json"):
            continue
        try:
            with open(p) as f:
                v = json.load(f)
        except (ValueError, OSError) as e:
            out.append("%s does not parse: %s" % (name, str(e)[:120]))
            continue
        if not (isinstance(v, dict) and isinstance(v.get("schema"), int) and isinstance(v.get("kind"), str) and "data" in v):
            out.append("%s lacks the {schema,kind,data} envelope" % name)
    return out


def state_obs(w, skip=()):
    obs = {}
    for name in sorted(os.listdir(w.state)):
        if name.endswith(".json") and not TMP_RE.match(name) and name not in skip:
            try:
                obs["file " + name] = canon(w.state_json(name).get("data"))
            except (ValueError, AttributeError):
                obs["file " + name] = "<unparsable>"
    return obs


def ipam_allocs(w):
    """{subnet: [(ip, owner)]} from ipam.json."""
    v = w.state_json("ipam.json")
    if v is None:
        return {}
    out = {}
    for s in v.get("data", {}).get("subnets", []):
        out[s.get("subnet")] = [(a.get("ip"), a.get("owner")) for a in s.get("allocations", [])]
    return out


def ipam_problems(w, expected):
    """No address twice, no owner twice, per subnet exactly the expected owners (file and `ipam list`)."""
    out = []
    try:
        allocs = ipam_allocs(w)
    except (ValueError, OSError) as e:
        return ["ipam.json unreadable: %s" % e]
    for subnet, pairs in allocs.items():
        ips = [ip for ip, _ in pairs]
        owners = [o for _, o in pairs]
        for ip in sorted(set(x for x in ips if ips.count(x) > 1)):
            out.append("address %s allocated %d times in %s" % (ip, ips.count(ip), subnet))
        for o in sorted(set(x for x in owners if owners.count(x) > 1)):
            out.append("owner %s holds %d addresses in %s" % (o, owners.count(o), subnet))
    for subnet, want in expected.items():
        got = set(o for _, o in allocs.get(subnet, []))
        if got != set(want):
            lost, extra = sorted(set(want) - got), sorted(got - set(want))
            out.append("ipam owners of %s: %s%s" % (subnet, ("lost " + ",".join(lost)) if lost else "",
                                                      (" leaked " + ",".join(extra)) if extra else ""))
    r = w.ezlb(["ipam", "list", "-o", "json"])
    if r.rc != 0:
        out.append("ipam list: %s" % r.brief())
    else:
        listed = sorted((a.get("subnet"), a.get("ip"), a.get("owner")) for a in r.json.get("allocations", []))
        filed = sorted((s, ip, o) for s, pairs in allocs.items() for ip, o in pairs)
        if listed != filed:
            out.append("ipam list disagrees with ipam.json: %s vs %s" % (short(listed), short(filed)))
    return out


def ipam_owner_ip(w, subnet):
    return {o: ip for ip, o in ipam_allocs(w).get(subnet, [])}


def ip_json(w, role, args):
    r = w.ip(role, ["-j"] + list(args))
    if r.rc != 0:
        return None
    try:
        return json.loads(r.out or "[]")
    except ValueError:
        return None


def links_obs(w, role, stable_mac=lambda name: True):
    v = ip_json(w, role, ["link", "show"]) or []
    return sorted([l["ifname"], "UP" in l.get("flags", []), l.get("master"),
                   l.get("address") if stable_mac(l["ifname"]) else None] for l in v)


def addrs_obs(w, role):
    v = ip_json(w, role, ["addr", "show"]) or []
    return sorted([l["ifname"], "%s/%s" % (a["local"], a["prefixlen"])] for l in v for a in l.get("addr_info", [])
                  if a.get("scope") != "link" and not a["local"].startswith("fe80"))


def routes_obs(w, role):
    out = []
    for fam in (["-4"], ["-6"]):
        for r in ip_json(w, role, fam + ["route", "show"]) or []:
            if r.get("dst", "").startswith(("fe80", "ff")):
                continue
            out.append([r.get("dst"), r.get("gateway"), r.get("dev")])
    return sorted(out)


def iptables_obs(w, role):
    out = {}
    for tool in ("iptables-legacy-save", "ip6tables-legacy-save"):
        r = w.inns(role, [tool])
        # Chain counters count traffic (the kernel's own packets too): not state.
        out[tool] = [re.sub(r"\[\d+:\d+\]$", "[0:0]", l) for l in r.out.splitlines() if l and not l.startswith("#")] \
            if r.rc == 0 else ["<%s>" % r.brief()]
    return out


def xfrm_obs(w, role):
    out = {}
    for what in ("policy", "state"):
        r = w.ip(role, ["xfrm", what])
        objs, cur = [], []
        for line in r.out.splitlines():
            if line.startswith("src ") and cur:
                objs.append(" ".join(cur))
                cur = []
            if line.strip() and not line.strip().startswith(("lifetime", "anti-replay", "stats", "current")):
                cur.append(line.strip())
        if cur:
            objs.append(" ".join(cur))
        out["xfrm " + what] = sorted(objs)
    return out


def changed_false_problems(r, expected_rc):
    out = []
    if r.rc != expected_rc:
        out.append("second re-run: %s" % r.brief())
        return out
    if "CNI_COMMAND" in (r.env or {}):
        return out   # a CNI plugin prints the spec's result; "no change" is checked on the state
    j = r.json
    if j.get("changed") is not False:
        out.append("second re-run reports changed:%s (%s)" % (j.get("changed"), short([a.get("text") for a in j.get("actions", [])])))
    for k in ("writes", "commits"):
        if j.get(k) not in (None, 0):
            out.append("second re-run made %s=%s" % (k, j.get(k)))
    return out


# ---------------------------------------------------------------------------------------------
# scenarios

IPAM_CFG = "ipam:\n  reserved: [10.1.0.10]\n"

IPVS_A = """\
services:
  - name: web
    listen: 10.0.0.1:80
    scheduler: wrr
    backends:
      - {address: "192.168.1.10:8080", weight: 5}
      - {address: "192.168.1.11:8080", weight: 3}
  - name: dns
    listen: 10.0.0.3:53
    protocol: udp
    backends:
      - {address: "192.168.4.10:53"}
      - {address: "192.168.4.11:53"}
  - name: v6
    listen: "[2001:db8::10]:443"
    backends:
      - {address: "[2001:db8:1::10]:443"}
"""
# web: scheduler and a weight changed, a backend removed and one added; dns deleted; api added.
IPVS_B = """\
services:
  - name: web
    listen: 10.0.0.1:80
    scheduler: rr
    backends:
      - {address: "192.168.1.10:8080", weight: 2}
      - {address: "192.168.1.12:8080", weight: 3}
  - name: api
    listen: 10.0.0.4:443
    backends:
      - {address: "192.168.2.10:8443"}
      - {address: "192.168.2.11:8443"}
  - name: v6
    listen: "[2001:db8::10]:443"
    backends:
      - {address: "[2001:db8:1::10]:443"}
"""
IPVS_B_KEYS = {"tcp 10.0.0.1:80", "tcp 10.0.0.4:443", "tcp [2001:db8::10]:443"}
FOREIGN_IPVS = {"destinations": [{"address": "192.168.9.1", "forward": "masq", "lower_threshold": 0, "port": 80,
                                  "upper_threshold": 0, "weight": 1}],
                "service": {"flags": 0, "key": {"address": "10.9.9.9", "port": 80, "protocol": "tcp"},
                            "netmask": 4294967295, "scheduler": "rr", "timeout": 0}}

SNAT_A = """\
services:
  - name: web
    listen: 10.0.0.1:80
    full_nat: true
    snat_ip: 10.0.0.3
    backends:
      - {address: "192.168.1.10:8080"}
      - {address: "192.168.1.11:8080"}
  - name: dns
    listen: 10.0.0.1:53
    protocol: udp
    full_nat: true
    backends:
      - {address: "192.168.1.20:53"}
  - name: plain
    listen: 10.0.0.2:80
    backends:
      - {address: "192.168.1.30:80"}
  - name: web6
    listen: "[2001:db8::1]:443"
    full_nat: true
    snat_ip: "2001:db8::3"
    backends:
      - {address: "[2001:db8:1::10]:8443"}
"""
# web: a backend replaced, snat_ip changed; dns removed; api added; web6's backend replaced.
SNAT_B = """\
services:
  - name: web
    listen: 10.0.0.1:80
    full_nat: true
    snat_ip: 10.0.0.4
    backends:
      - {address: "192.168.1.10:8080"}
      - {address: "192.168.1.12:8080"}
  - name: api
    listen: 10.0.0.5:443
    full_nat: true
    backends:
      - {address: "192.168.2.10:8443"}
  - name: plain
    listen: 10.0.0.2:80
    backends:
      - {address: "192.168.1.30:80"}
  - name: web6
    listen: "[2001:db8::1]:443"
    full_nat: true
    snat_ip: "2001:db8::3"
    backends:
      - {address: "[2001:db8:1::11]:8443"}
"""
# What iptables-legacy-save must show of ezlb after SNAT_B (foreign rules come first).
SNAT_B_EXPECTED = {   # iptables-legacy-save prints filter before nat
    "iptables-legacy-save": [
        ":EZLB-FORWARD - [0:0]",
        "-A FORWARD -j EZLB-FORWARD",
        "-A FORWARD -s 10.9.0.0/16 -j ACCEPT",
        "-A EZLB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ezlb -j ACCEPT",
        '-A EZLB-FORWARD -s 192.168.1.10/32 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j ACCEPT',
        '-A EZLB-FORWARD -s 192.168.1.12/32 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j ACCEPT',
        '-A EZLB-FORWARD -s 192.168.2.10/32 -p tcp -m tcp --sport 8443 -m conntrack --ctproto 6 --ctorigdst 10.0.0.5 --ctorigdstport 443 -m comment --comment "ezlb:api" -j ACCEPT',
        ":EZLB-SNAT - [0:0]",
        "-A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE",
        "-A POSTROUTING -j EZLB-SNAT",
        '-A EZLB-SNAT -d 192.168.1.10/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j SNAT --to-source 10.0.0.4',
        '-A EZLB-SNAT -d 192.168.1.12/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j SNAT --to-source 10.0.0.4',
        '-A EZLB-SNAT -d 192.168.2.10/32 -p tcp -m tcp --dport 8443 -m conntrack --ctproto 6 --ctorigdst 10.0.0.5 --ctorigdstport 443 -m comment --comment "ezlb:api" -j MASQUERADE',
    ],
    "ip6tables-legacy-save": [
        ":EZLB-FORWARD - [0:0]",
        "-A FORWARD -j EZLB-FORWARD",
        "-A EZLB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ezlb -j ACCEPT",
        '-A EZLB-FORWARD -s 2001:db8:1::11/128 -p tcp -m tcp --sport 8443 -m conntrack --ctproto 6 --ctorigdst 2001:db8::1 --ctorigdstport 443 -m comment --comment "ezlb:web6" -j ACCEPT',
        ":EZLB-SNAT - [0:0]",
        "-A POSTROUTING -j EZLB-SNAT",
        '-A EZLB-SNAT -d 2001:db8:1::11/128 -p tcp -m tcp --dport 8443 -m conntrack --ctproto 6 --ctorigdst 2001:db8::1 --ctorigdstport 443 -m comment --comment "ezlb:web6" -j SNAT --to-source 2001:db8::3',
    ],
}

SNAT_A_EXPECTED = {
    "iptables-legacy-save": [
        ":EZLB-FORWARD - [0:0]",
        "-A FORWARD -j EZLB-FORWARD",
        "-A FORWARD -s 10.9.0.0/16 -j ACCEPT",
        "-A EZLB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ezlb -j ACCEPT",
        '-A EZLB-FORWARD -s 192.168.1.10/32 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j ACCEPT',
        '-A EZLB-FORWARD -s 192.168.1.11/32 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j ACCEPT',
        '-A EZLB-FORWARD -s 192.168.1.20/32 -p udp -m udp --sport 53 -m conntrack --ctproto 17 --ctorigdst 10.0.0.1 --ctorigdstport 53 -m comment --comment "ezlb:dns" -j ACCEPT',
        ":EZLB-SNAT - [0:0]",
        "-A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE",
        "-A POSTROUTING -j EZLB-SNAT",
        '-A EZLB-SNAT -d 192.168.1.10/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j SNAT --to-source 10.0.0.3',
        '-A EZLB-SNAT -d 192.168.1.11/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j SNAT --to-source 10.0.0.3',
        '-A EZLB-SNAT -d 192.168.1.20/32 -p udp -m udp --dport 53 -m conntrack --ctproto 17 --ctorigdst 10.0.0.1 --ctorigdstport 53 -m comment --comment "ezlb:dns" -j MASQUERADE',
    ],
    "ip6tables-legacy-save": [
        ":EZLB-FORWARD - [0:0]",
        "-A FORWARD -j EZLB-FORWARD",
        "-A EZLB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ezlb -j ACCEPT",
        '-A EZLB-FORWARD -s 2001:db8:1::10/128 -p tcp -m tcp --sport 8443 -m conntrack --ctproto 6 --ctorigdst 2001:db8::1 --ctorigdstport 443 -m comment --comment "ezlb:web6" -j ACCEPT',
        ":EZLB-SNAT - [0:0]",
        "-A POSTROUTING -j EZLB-SNAT",
        '-A EZLB-SNAT -d 2001:db8:1::10/128 -p tcp -m tcp --dport 8443 -m conntrack --ctproto 6 --ctorigdst 2001:db8::1 --ctorigdstport 443 -m comment --comment "ezlb:web6" -j SNAT --to-source 2001:db8::3',
    ],
}

XFRM_A = """\
ipsec:
  local: 192.168.0.1
  key_file: psk
  pods: [10.244.1.0/28]
  peers:
    - address: 192.168.0.2
      pods: [10.244.2.0/28]
    - address: 192.168.0.3
      pods: [10.244.3.0/28]
"""
# Peer .3 removed, .4 added, .2 gets a second prefix, generation 2 (new IN SAs, OUT stays on 1).
XFRM_B = """\
ipsec:
  local: 192.168.0.1
  key_file: psk
  generation: 2
  pods: [10.244.1.0/28]
  peers:
    - address: 192.168.0.2
      pods: [10.244.2.0/28, 10.244.12.0/28]
    - address: 192.168.0.4
      pods: [10.244.4.0/28]
"""
PSK = "11" * 32

BR = "ezbr0"
BR_SUBNET = "10.88.0.0/24"
BR_GW = "10.88.0.1"


class Scenario:
    name = ""
    slug = ""
    roles = ()
    backend = None
    abort = False             # kill, then the abort command instead of a re-run
    allowed_rcs = (0,)        # what an uninterrupted run may exit with
    expected_ipam = {}        # subnet -> owners after the command

    def prepare(self, w):
        pass

    def command(self, w):
        raise NotImplementedError

    def abort_command(self, w):
        return None

    def observe(self, w):
        return state_obs(w)

    def after_kill(self, w):
        return []

    def final(self, w):
        return []

    def rc_note(self, w, rc):
        return None


# --- ipam (no kernel) ---------------------------------------------------------------------------

class IpamAllocate(Scenario):
    name, slug = "ipam allocate", "ipam-alloc"
    expected_ipam = {"10.1.0.0/24": {"o1", "o2", "o3", "new"}, "10.2.0.0/24": {"x"}}

    def prepare(self, w):
        w.write_cfg("ipam.yaml", IPAM_CFG)
        for o in ("o1", "o2", "o3"):
            w.must(["ipam", "allocate", "-c", "ipam.yaml", "--subnet", "10.1.0.0/24", "--owner", o])
        w.must(["ipam", "allocate", "-c", "ipam.yaml", "--subnet", "10.2.0.0/24", "--owner", "x"])
        w.must(["ipam", "release", "-c", "ipam.yaml", "--subnet", "10.1.0.0/24", "--owner", "o2"])
        w.must(["ipam", "allocate", "-c", "ipam.yaml", "--subnet", "10.1.0.0/24", "--owner", "o2", "--ip", "10.1.0.20"])

    def command(self, w):
        return ["ipam", "allocate", "-c", "ipam.yaml", "--subnet", "10.1.0.0/24", "--owner", "new", "-o", "json"]

    def final(self, w):
        ip = ipam_owner_ip(w, "10.1.0.0/24").get("new")
        return [] if ip == "10.1.0.3" else ["owner new got %s, expected the lowest free 10.1.0.3" % ip]


class IpamAllocateAbort(IpamAllocate):
    name, slug, abort = "ipam allocate, killed, then release", "ipam-alloc-abort", True
    expected_ipam = {"10.1.0.0/24": {"o1", "o2", "o3"}, "10.2.0.0/24": {"x"}}

    def abort_command(self, w):
        return ["ipam", "release", "-c", "ipam.yaml", "--subnet", "10.1.0.0/24", "--owner", "new", "-o", "json"]

    def final(self, w):
        return []


class IpamRelease(Scenario):
    name, slug = "ipam release", "ipam-release"
    expected_ipam = {"10.1.0.0/24": {"o1", "o3"}, "10.2.0.0/24": {"x"}}

    def prepare(self, w):
        w.write_cfg("ipam.yaml", IPAM_CFG)
        for o in ("o1", "victim", "o3"):
            w.must(["ipam", "allocate", "-c", "ipam.yaml", "--subnet", "10.1.0.0/24", "--owner", o])
        w.must(["ipam", "allocate", "-c", "ipam.yaml", "--subnet", "10.2.0.0/24", "--owner", "x"])

    def command(self, w):
        return ["ipam", "release", "-c", "ipam.yaml", "--subnet", "10.1.0.0/24", "--owner", "victim", "-o", "json"]


# --- ipvs (fake kernel) -------------------------------------------------------------------------

def fake_ipvs_keys(w):
    fk = w.state_json("fake-kernel.json") or {}
    out = set()
    for s in fk.get("data", {}).get("ipvs", []):
        k = s["service"]["key"]
        if "fwmark" in k:
            out.add("fwmark %s" % k["fwmark"])
        else:
            a = k["address"]
            out.add("%s %s:%s" % (k["protocol"], "[%s]" % a if ":" in a else a, k["port"]))
    return out


def owned_ipvs_keys(w):
    v = w.state_json("ipvs.json") or {}
    return set((v.get("data", {}).get("services") or {}).keys())


class IpvsApply(Scenario):
    name, slug = "ipvs apply", "ipvs-apply"
    want = IPVS_B_KEYS

    def prepare(self, w):
        w.write_cfg("a.yaml", IPVS_A)
        w.write_cfg("b.yaml", IPVS_B)
        w.must(["ipvs", "apply", "-c", "a.yaml", "--no-probe"])
        self.add_foreign(w)

    def add_foreign(self, w):
        # Another tool's service in the (fake) kernel: must never be touched.
        p = os.path.join(w.state, "fake-kernel.json")
        with open(p) as f:
            fk = json.load(f)
        fk["data"]["ipvs"].append(FOREIGN_IPVS)
        with open(p, "w") as f:
            json.dump(fk, f, indent=2)

    def command(self, w):
        return ["ipvs", "apply", "-c", "b.yaml", "--no-probe", "-o", "json"]

    def observe(self, w):
        obs = state_obs(w)
        r = w.ezlb(["ipvs", "show", "-o", "json"])
        obs["ipvs show"] = canon(r.json.get("services")) if r.rc == 0 else r.brief()
        return obs

    def after_kill(self, w):
        # Intent before the kernel: nothing in the kernel that is neither foreign nor owned.
        orphans = fake_ipvs_keys(w) - owned_ipvs_keys(w) - {"tcp 10.9.9.9:80"}
        out = ["service %s in the kernel but not in ipvs.json (orphaned)" % k for k in sorted(orphans)]
        if "tcp 10.9.9.9:80" not in fake_ipvs_keys(w):
            out.append("foreign service tcp 10.9.9.9:80 deleted")
        return out

    def final(self, w):
        out = self.after_kill(w)
        kernel = fake_ipvs_keys(w) - {"tcp 10.9.9.9:80"}
        if kernel != self.want:
            out.append("kernel services %s, expected %s" % (sorted(kernel), sorted(self.want)))
        if owned_ipvs_keys(w) != self.want:
            out.append("ipvs.json owns %s, expected %s" % (sorted(owned_ipvs_keys(w)), sorted(self.want)))
        return out


def no_health(cfg):
    return cfg.replace("    backends:\n", "    health_check: {enabled: false}\n    backends:\n")


class IpvsApplyCached(IpvsApply):
    """No health checks anywhere (no health.json): the runs that converge record ipvs.converged,
    so the re-runs after a kill may take the convergence fast path."""
    name, slug = "ipvs apply (no health checks)", "ipvs-apply-nohc"

    def prepare(self, w):
        w.write_cfg("a.yaml", no_health(IPVS_A))
        w.write_cfg("b.yaml", no_health(IPVS_B))
        w.must(["ipvs", "apply", "-c", "a.yaml"])
        self.add_foreign(w)
        w.must(["ipvs", "apply", "-c", "a.yaml"])

    def command(self, w):
        return ["ipvs", "apply", "-c", "b.yaml", "-o", "json"]


class IpvsCleanup(IpvsApply):
    name, slug = "ipvs cleanup", "ipvs-cleanup"
    want = set()

    def command(self, w):
        return ["ipvs", "cleanup", "-o", "json"]


# --- xfrm ---------------------------------------------------------------------------------------

def xfrm_dangling(show):
    """Policies (ezlb's) whose template has no SA with the same src, dst and reqid."""
    states = {(s.get("src"), s.get("dst"), s.get("reqid")) for s in show.get("states", [])}
    out = []
    for p in show.get("policies", []):
        if not p.get("managed"):
            continue
        for t in p.get("templates", []):
            if (t.get("src"), t.get("dst"), t.get("reqid")) not in states:
                out.append("policy %s -> %s dir %s points at a missing SA (tmpl %s -> %s reqid %s)" % (
                    p.get("src"), p.get("dst"), p.get("dir"), t.get("src"), t.get("dst"), t.get("reqid")))
    return out


class XfrmFake(Scenario):
    name, slug = "xfrm sync (fake)", "xfrm-fake"

    def prepare(self, w):
        w.write_cfg("psk", PSK, 0o600)
        w.write_cfg("a.yaml", XFRM_A)
        w.write_cfg("b.yaml", XFRM_B)
        w.must(["xfrm", "sync", "-c", "a.yaml"])

    def command(self, w):
        return ["xfrm", "sync", "-c", "b.yaml", "-o", "json"]

    def show(self, w):
        r = w.ezlb(["xfrm", "show", "--all", "-o", "json"])
        return r.json if r.rc == 0 else {"error": r.brief()}

    def observe(self, w):
        obs = state_obs(w)
        s = self.show(w)
        obs["xfrm show"] = canon({k: s.get(k) for k in ("policies", "states", "error")})
        return obs

    def after_kill(self, w):
        s = self.show(w)
        return (["xfrm show: %s" % s["error"]] if "error" in s else []) + xfrm_dangling(s)

    def final(self, w):
        s = self.show(w)
        out = self.after_kill(w)
        pol = [p for p in s.get("policies", []) if p.get("managed")]
        # .2: 1 local x 2 peer prefixes x (out, in, fwd); .4: 1 x 1 x 3.
        if len(pol) != 9:
            out.append("%d ezlb policies, expected 9" % len(pol))
        if any("192.168.0.3" in json.dumps(x) for x in s.get("policies", []) + s.get("states", [])):
            out.append("objects of the removed peer 192.168.0.3 left")
        return out


class XfrmNetns(XfrmFake):
    """xfrm in a private namespace. Without ESP in the kernel (as on the dev host) sync is
    refused at the first SA and must leave no policy (XfrmNetnsTests does the same)."""
    name, slug, roles = "xfrm sync (netns)", "xfrm-ns", ("h",)
    allowed_rcs = (0, 1)

    def prepare(self, w):
        w.write_cfg("psk", PSK, 0o600)
        w.write_cfg("a.yaml", XFRM_A)
        w.notes["esp"] = self.has_esp(w)

    def has_esp(self, w):
        r = w.ip("h", ["xfrm", "state", "add", "src", "192.168.0.1", "dst", "192.168.0.2", "proto", "esp", "spi", "0x4242",
                       "reqid", "0x0e210001", "mode", "tunnel", "aead", "rfc4106(gcm(aes))", "0x" + "01" * 20, "128"])
        if r.rc == 0:
            w.ip("h", ["xfrm", "state", "flush"])  # our own private namespace
        return r.rc == 0

    def command(self, w):
        return ["xfrm", "sync", "-c", "a.yaml", "-o", "json"]

    def observe(self, w):
        obs = state_obs(w)
        obs.update(xfrm_obs(w, "h"))
        return obs

    def rc_note(self, w, rc):
        if rc == 1 and not w.notes.get("esp"):
            return "no ESP in this kernel: sync refused at the first SA (as XfrmNetnsTests expects)"
        return None

    def final(self, w):
        out = self.after_kill(w)
        pol = xfrm_obs(w, "h")["xfrm policy"]
        if w.notes.get("esp"):
            if len(pol) != 6:
                out.append("%d policies, expected 6" % len(pol))
        elif pol:
            out.append("no ESP: %d policies left without their SAs" % len(pol))
        return out


# --- bridge (kernel, private namespaces) --------------------------------------------------------

class BridgeBase(Scenario):
    roles = ("h", "c0", "c1")
    bridge_exists = True
    connected = set()          # owners connected after the command (c0, c1)
    gone = ()                  # owners whose veth and address must be gone

    @property
    def expected_ipam(self):
        return {BR_SUBNET: {self.owner_of(r) for r in self.connected}}

    def owner_of(self, role):
        """The owner a container role's attachment is recorded under."""
        return role

    def host_setup(self, w):
        w.ip("h", ["link", "set", "lo", "up"])
        # Foreign objects that must survive: a dummy link, nat and filter rules.
        w.sh("h", ["ip", "link", "add", "fveth0", "type", "veth", "peer", "name", "fveth1"])
        w.sh("h", ["iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-s", "10.9.0.0/16", "-j", "MASQUERADE"])
        w.write_cfg("ipam.yaml", IPAM_CFG)

    def create(self, w):
        w.must(["bridge", "create", BR, "--subnet", BR_SUBNET])

    def connect(self, w, owner):
        w.must(["bridge", "connect", BR, "--netns", w.ns(owner), "--owner", owner])

    def observe(self, w):
        obs = state_obs(w)
        host_mac = lambda n: n == BR   # veth host ends (ezlb's and the foreign pair) get random MACs
        obs["host links"] = links_obs(w, "h", host_mac)
        obs["host addrs"] = addrs_obs(w, "h")
        obs["host iptables"] = iptables_obs(w, "h")
        for c in self.roles[1:]:
            obs[c + " links"] = links_obs(w, c)
            obs[c + " addrs"] = addrs_obs(w, c)
            obs[c + " routes"] = routes_obs(w, c)
        return obs

    def bridges(self, w):
        v = w.state_json("bridges.json") or {}
        return {b.get("name"): b for b in v.get("data", {}).get("bridges", [])}

    def after_kill(self, w):
        # Recorded before created: every ez* veth on the host belongs to a recorded connection.
        out = []
        b = self.bridges(w).get(BR)
        recorded = {c.get("host_veth") for c in (b or {}).get("connections", [])}
        for l in ip_json(w, "h", ["link", "show"]) or []:
            n = l["ifname"]
            if n.startswith("ez") and n != BR and n not in recorded:
                out.append("host veth %s not recorded in bridges.json" % n)
        if "fveth0" not in [l["ifname"] for l in ip_json(w, "h", ["link", "show"]) or []]:
            out.append("foreign link fveth0 deleted")
        return out

    def final(self, w):
        out = self.after_kill(w)
        links = {l["ifname"]: l for l in ip_json(w, "h", ["link", "show"]) or []}
        b = self.bridges(w).get(BR)
        if self.bridge_exists != (BR in links):
            out.append("bridge link %s %s" % (BR, "missing" if self.bridge_exists else "left behind"))
        if self.bridge_exists != (b is not None):
            out.append("bridges.json %s %s" % ("lacks" if self.bridge_exists else "still records", BR))
        if self.bridge_exists and BR in links:
            if "UP" not in links[BR].get("flags", []):
                out.append("%s is down" % BR)
            if [BR, BR_GW + "/24"] not in addrs_obs(w, "h"):
                out.append("%s lacks %s/24" % (BR, BR_GW))
        conns = {c.get("owner"): c for c in (b or {}).get("connections", [])}
        want = {self.owner_of(r) for r in self.connected}
        if set(conns) != want:
            out.append("bridges.json connections %s, expected %s" % (sorted(conns), sorted(want)))
        veths = sorted(n for n in links if n.startswith("ez") and n != BR)
        if len(veths) != len(self.connected):
            out.append("host veths %s, expected %d (owners %s)" % (veths, len(self.connected), sorted(self.connected)))
        ips = ipam_owner_ip(w, BR_SUBNET)
        for owner in self.roles[1:]:
            clinks = [l[0] for l in links_obs(w, owner)]
            if owner in self.connected:
                c = conns.get(self.owner_of(owner), {})
                hv = c.get("host_veth")
                if hv not in links:
                    out.append("%s: host veth %s missing" % (owner, hv))
                elif links[hv].get("master") != BR or "UP" not in links[hv].get("flags", []):
                    out.append("%s: host veth %s not up on %s" % (owner, hv, BR))
                if "eth0" not in clinks:
                    out.append("%s: no eth0 in its namespace" % owner)
                ip = ips.get(self.owner_of(owner))
                if ["eth0", "%s/24" % ip] not in addrs_obs(w, owner):
                    out.append("%s: eth0 lacks its IPAM address %s/24 (has %s)" % (owner, ip, addrs_obs(w, owner)))
                if c.get("ip") != ip:
                    out.append("%s: bridges.json says %s, ipam.json %s" % (owner, c.get("ip"), ip))
                if ["default", BR_GW, "eth0"] not in routes_obs(w, owner):
                    out.append("%s: no default route via %s (routes %s)" % (owner, BR_GW, routes_obs(w, owner)))
                if not any(l[0] == "lo" and l[1] for l in links_obs(w, owner)):
                    out.append("%s: lo is down" % owner)
            else:
                if clinks != ["lo"]:
                    out.append("%s: disconnected but its namespace has %s" % (owner, clinks))
        for owner in self.gone:
            hv = self.notes_veth(w, self.owner_of(owner))
            if hv and hv in links:
                out.append("%s: veth %s still on the host" % (owner, hv))
            if self.owner_of(owner) in ips:
                out.append("%s: address %s not released" % (owner, ips[self.owner_of(owner)]))
        nat = iptables_obs(w, "h")["iptables-legacy-save"]
        chain = "EZLB-BR-" + BR
        rules = [l for l in nat if chain in l]
        want = [":%s - [0:0]" % chain, "-A POSTROUTING -j %s" % chain,
                "-A %s -s %s ! -o %s -j MASQUERADE" % (chain, BR_SUBNET, BR)] if self.bridge_exists else []
        if rules != want:
            out.append("nat rules for %s: %s, expected %s" % (BR, rules, want))
        if "-A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE" not in nat:
            out.append("foreign nat rule deleted")
        return out

    def notes_veth(self, w, owner):
        return w.notes.get("veth " + owner)

    def remember_veths(self, w):
        b = self.bridges(w).get(BR) or {}
        for c in b.get("connections", []):
            w.notes["veth " + c.get("owner")] = c.get("host_veth")


class BridgeCreate(BridgeBase):
    name, slug = "bridge create", "br-create"
    connected = set()

    def prepare(self, w):
        self.host_setup(w)

    def command(self, w):
        return ["bridge", "create", BR, "--subnet", BR_SUBNET, "-o", "json"]


class BridgeConnect(BridgeBase):
    name, slug = "bridge connect", "br-connect"
    connected = {"c0", "c1"}

    def prepare(self, w):
        self.host_setup(w)
        self.create(w)
        self.connect(w, "c0")

    def command(self, w):
        return ["bridge", "connect", BR, "--netns", w.ns("c1"), "--owner", "c1", "-o", "json"]


class BridgeConnectAbort(BridgeConnect):
    """The caller gives up after a killed connect and disconnects: nothing of c1 may stay."""
    name, slug, abort = "bridge connect, killed, then disconnect", "br-conn-abort", True
    connected = {"c0"}
    gone = ("c1",)

    def abort_command(self, w):
        return ["bridge", "disconnect", BR, "--owner", "c1", "-o", "json"]

    def notes_veth(self, w, owner):
        # The veth name is a hash of bridge and owner: take it from the uninterrupted run.
        return w.suite.calib_notes.get(self.slug, {}).get("veth " + owner)


class BridgeDisconnect(BridgeBase):
    name, slug = "bridge disconnect", "br-disconnect"
    connected = {"c0"}
    gone = ("c1",)

    def prepare(self, w):
        self.host_setup(w)
        self.create(w)
        self.connect(w, "c0")
        self.connect(w, "c1")
        self.remember_veths(w)

    def command(self, w):
        return ["bridge", "disconnect", BR, "--owner", "c1", "-o", "json"]


class BridgeDelete(BridgeBase):
    name, slug = "bridge delete --force", "br-delete"
    roles = ("h", "c0")
    bridge_exists = False
    connected = set()
    gone = ("c0",)

    @property
    def expected_ipam(self):
        return {BR_SUBNET: set(), "10.1.0.0/24": {"keep"}}

    def prepare(self, w):
        self.host_setup(w)
        self.create(w)
        self.connect(w, "c0")
        w.must(["ipam", "allocate", "-c", "ipam.yaml", "--subnet", "10.1.0.0/24", "--owner", "keep"])
        self.remember_veths(w)

    def command(self, w):
        return ["bridge", "delete", BR, "--force", "-o", "json"]


# --- the CNI plugin (kernel, private namespaces) ------------------------------------------------

class CNICall(list):
    """No arguments: ezlb run as a CNI plugin, CNI_* in the environment, the network config on stdin."""
    def __init__(self, env, stdin):
        super().__init__()
        self.env, self.stdin = env, stdin


class CNIBase(BridgeBase):
    """The bridge scenarios' namespaces and checks, with attachments made through CNI ADD/DEL
    (owner cni:fi:<container>:eth0) on a bridge `bridge create` made (so it stays)."""

    def owner_of(self, role):
        return "cni:fi:%s:eth0" % role

    def conf(self, w):
        p = os.path.join(w.cfg, "net.json")
        if not os.path.exists(p):
            w.write_cfg("net.json", json.dumps({
                "cniVersion": "1.0.0", "name": "fi", "type": "ezlb", "bridge": BR, "ipMasq": True,
                "stateDir": w.state, "firewall": "iptables",
                "ipam": {"type": "ezlb", "ranges": [[{"subnet": BR_SUBNET}]], "routes": [{"dst": "0.0.0.0/0"}]}}))
        return p

    def call(self, w, command, role):
        return CNICall({"CNI_COMMAND": command, "CNI_CONTAINERID": role, "CNI_IFNAME": "eth0",
                        "CNI_NETNS": "/run/netns/" + w.ns(role), "CNI_PATH": "/usr/lib/cni"}, self.conf(w))

    def create(self, w):
        w.must(["bridge", "create", BR, "--subnet", BR_SUBNET, "--firewall", "iptables"])

    def connect(self, w, owner):
        w.must(self.call(w, "ADD", owner), "CNI ADD " + owner)


class CNIAdd(CNIBase, BridgeConnect):
    name, slug = "CNI ADD", "cni-add"

    def command(self, w):
        return self.call(w, "ADD", "c1")


class CNIAddAbort(CNIAdd, BridgeConnectAbort):
    """The runtime gives up after a killed ADD and sends DEL (what the spec asks of it): nothing of c1 may stay."""
    name, slug, abort = "CNI ADD, killed, then DEL", "cni-add-abort", True

    def abort_command(self, w):
        return self.call(w, "DEL", "c1")


class CNIDel(CNIBase, BridgeDisconnect):
    name, slug = "CNI DEL", "cni-del"

    def command(self, w):
        return self.call(w, "DEL", "c1")


# --- snat (kernel, private namespace) -----------------------------------------------------------

class SnatSync(Scenario):
    """Config A synced (foreign rules around it), then config B: rules added, replaced, removed."""
    name, slug, roles = "snat sync", "snat", ("h",)
    expected = SNAT_B_EXPECTED

    def prepare(self, w):
        w.write_cfg("a.yaml", SNAT_A)
        w.write_cfg("b.yaml", SNAT_B)
        w.sh("h", ["iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-s", "10.9.0.0/16", "-j", "MASQUERADE"])
        w.sh("h", ["iptables-legacy", "-A", "FORWARD", "-s", "10.9.0.0/16", "-j", "ACCEPT"])
        w.sh("h", ["ip6tables-legacy", "-t", "nat", "-L", "-n"])
        self.before(w)

    def before(self, w):
        w.must(["snat", "sync", "-c", "a.yaml"])

    def command(self, w):
        return ["snat", "sync", "-c", "b.yaml", "-o", "json"]

    def observe(self, w):
        obs = state_obs(w)
        obs["iptables"] = iptables_obs(w, "h")
        return obs

    def after_kill(self, w):
        save = iptables_obs(w, "h")
        out = []
        if "-A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE" not in save["iptables-legacy-save"]:
            out.append("foreign nat rule deleted")
        if "-A FORWARD -s 10.9.0.0/16 -j ACCEPT" not in save["iptables-legacy-save"]:
            out.append("foreign filter rule deleted")
        return out

    def final(self, w):
        out = self.after_kill(w)
        save = iptables_obs(w, "h")
        for tool, want in self.expected.items():
            got = [l for l in save[tool] if "EZLB" in l or "10.9.0.0/16" in l]
            if got != want:
                out.append("%s: %s" % (tool, "; ".join(diff(want, got, "rules"))))
        return out


class SnatSyncFirst(SnatSync):
    """The first sync (no snat.json yet): the intent record is written before the commits."""
    name, slug = "snat sync (first)", "snat-first"
    expected = SNAT_A_EXPECTED

    def before(self, w):
        pass

    def command(self, w):
        return ["snat", "sync", "-c", "a.yaml", "-o", "json"]


# What `nft list table inet ezlb` must hold of config B's elements (the rest is the fixed skeleton).
SNAT_B_NFT_ELEMENTS = [
    "10.0.0.1 . tcp . 80 . 192.168.1.10 . 8080",
    "10.0.0.1 . tcp . 80 . 192.168.1.12 . 8080",
    "10.0.0.5 . tcp . 443 . 192.168.2.10 . 8443",
    "10.0.0.1 . tcp . 80 . 192.168.1.10 . 8080 : 10.0.0.4",
    "10.0.0.1 . tcp . 80 . 192.168.1.12 . 8080 : 10.0.0.4",
    "2001:db8::1 . tcp . 443 . 2001:db8:1::11 . 8443",
    "2001:db8::1 . tcp . 443 . 2001:db8:1::11 . 8443 : 2001:db8::3",
]


def nft_elements(w, role):
    """The elements of table inet ezlb, one per line as nft prints them (sorted), or an error marker."""
    r = w.inns(role, ["nft", "list", "table", "inet", "ezlb"])
    if r.rc != 0:
        return ["<%s>" % r.brief()]
    text = re.sub(r"\s+", " ", " ".join(r.out.split("\n")))
    out = []
    for m in re.finditer(r"elements = \{ (.*?) \}", text):
        out += [e.strip() for e in m.group(1).split(",")]
    return sorted(out)


class SnatSyncNFT(SnatSync):
    """Config A synced on nftables (a foreign nft table beside it), then config B: one transaction,
    so a kill leaves table inet ezlb as A or as B, and the next run finishes B."""
    name, slug = "snat sync (nftables)", "snat-nft"
    want = SNAT_B_NFT_ELEMENTS

    def prepare(self, w):
        w.write_cfg("a.yaml", SNAT_A)
        w.write_cfg("b.yaml", SNAT_B)
        w.sh("h", ["nft", "add", "table", "inet", "other"])
        w.sh("h", ["nft", "add", "chain", "inet", "other", "c1", "{ type filter hook forward priority 0; policy accept; }"])
        w.sh("h", ["nft", "add", "rule", "inet", "other", "c1", "ip saddr 10.9.0.0/16 accept"])
        w.must(["snat", "sync", "-c", "a.yaml", "--firewall", "nftables"])

    def command(self, w):
        return ["snat", "sync", "-c", "b.yaml", "--firewall", "nftables", "-o", "json"]

    def observe(self, w):
        obs = state_obs(w)
        obs["nft"] = nft_elements(w, "h")
        return obs

    def after_kill(self, w):
        r = w.inns("h", ["nft", "list", "table", "inet", "other"])
        return [] if r.rc == 0 and "ip saddr 10.9.0.0/16 accept" in r.out else ["foreign table inet other changed: %s" % r.brief()]

    def final(self, w):
        out = self.after_kill(w)
        got = nft_elements(w, "h")
        if got != sorted(self.want):
            out.append("table inet ezlb: %s" % "; ".join(diff(sorted(self.want), got, "elements")))
        legacy = [l for l in iptables_obs(w, "h")["iptables-legacy-save"] if "EZLB" in l]
        if legacy:
            out.append("iptables: %s" % legacy)
        return out


SNAT_A_NFT_ELEMENTS = [
    "10.0.0.1 . tcp . 80 . 192.168.1.10 . 8080",
    "10.0.0.1 . tcp . 80 . 192.168.1.11 . 8080",
    "10.0.0.1 . udp . 53 . 192.168.1.20 . 53",
    "10.0.0.1 . tcp . 80 . 192.168.1.10 . 8080 : 10.0.0.3",
    "10.0.0.1 . tcp . 80 . 192.168.1.11 . 8080 : 10.0.0.3",
    "2001:db8::1 . tcp . 443 . 2001:db8:1::10 . 8443",
    "2001:db8::1 . tcp . 443 . 2001:db8:1::10 . 8443 : 2001:db8::3",
]


class SnatSyncNFTFirst(SnatSyncNFT):
    """The first sync on nftables: snat.json records the table before the transaction creates it."""
    name, slug = "snat sync (nftables, first)", "snat-nft-first"
    want = SNAT_A_NFT_ELEMENTS

    def prepare(self, w):
        w.write_cfg("a.yaml", SNAT_A)
        w.sh("h", ["nft", "add", "table", "inet", "other"])
        w.sh("h", ["nft", "add", "chain", "inet", "other", "c1", "{ type filter hook forward priority 0; policy accept; }"])
        w.sh("h", ["nft", "add", "rule", "inet", "other", "c1", "ip saddr 10.9.0.0/16 accept"])

    def command(self, w):
        return ["snat", "sync", "-c", "a.yaml", "--firewall", "nftables", "-o", "json"]


class IpamAllocateFirst(IpamAllocate):
    """The first allocation: no ipam.json yet."""
    name, slug = "ipam allocate (empty state)", "ipam-first"
    expected_ipam = {"10.1.0.0/24": {"new"}}

    def prepare(self, w):
        w.write_cfg("ipam.yaml", IPAM_CFG)

    def final(self, w):
        ip = ipam_owner_ip(w, "10.1.0.0/24").get("new")
        return [] if ip == "10.1.0.2" else ["owner new got %s, expected 10.1.0.2" % ip]


SCENARIOS = [IpamAllocateFirst(), IpamAllocate(), IpamAllocateAbort(), IpamRelease(),
             IpvsApply(), IpvsApplyCached(), IpvsCleanup(),
             BridgeCreate(), BridgeConnect(), BridgeConnectAbort(), BridgeDisconnect(), BridgeDelete(),
             CNIAdd(), CNIAddAbort(), CNIDel(),
             SnatSyncFirst(), SnatSync(), SnatSyncNFTFirst(), SnatSyncNFT(), XfrmNetns(), XfrmFake()]


# ---------------------------------------------------------------------------------------------
# the suite

class Suite:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.workdir = args.workdir or tempfile.mkdtemp(prefix="ezlb-faults-")
        os.makedirs(self.workdir, exist_ok=True)
        self.bin = os.path.join(self.workdir, "ezlb")
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith("EZLB_") and k != "XTABLES_LOCKFILE"}
        self.base_env["LC_ALL"] = "C"
        self.failures = []
        self.figures = {"kill_points": {}, "concurrency": {}, "locks": {}}
        self.calib_notes = {}
        self.mu = threading.Lock()
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.budget
        self.out_of_time = False

    def log(self, msg):
        print(msg, flush=True)

    def vlog(self, msg):
        if self.args.verbose:
            print("  " + msg, flush=True)

    def fail(self, command, where, invariant, detail="", repro=None, kept=None):
        f = {"command": command, "where": where, "invariant": invariant, "detail": detail, "repro": repro, "kept": kept}
        with self.mu:
            self.failures.append(f)
        self.log("FAIL %s [%s]: %s%s" % (command, where, invariant, (": " + short(detail, 300)) if detail else ""))

    def over_budget(self):
        if time.monotonic() > self.deadline:
            self.out_of_time = True
        return self.out_of_time

    def keep(self, w, label, extra=None):
        """Copies a failing world's directory (and its kernel view) aside; returns the path."""
        dst = os.path.join(self.workdir, "failed", "%s-%s" % (w.slug, re.sub(r"[^\w.-]", "_", label)))
        shutil.rmtree(dst, ignore_errors=True)
        try:
            shutil.copytree(w.dir, dst, symlinks=True)
            with open(os.path.join(dst, "observed.json"), "w") as f:
                json.dump(extra or {}, f, indent=1, sort_keys=True, default=str)
        except OSError:
            return None
        return dst

    def repro(self, scen, point=None):
        me = os.path.abspath(sys.argv[0])
        cmd = "python3 %s --bin %s --only %s" % (shlex.quote(me), shlex.quote(self.args.bin), shlex.quote(scen.slug))
        if point:
            cmd += " --point %s:%d" % point
        return cmd + " --keep"

    # ----- part 1: kill points

    def calibrate(self, scen, w):
        """One uninterrupted run under strace: kill points, the reference outcome."""
        w.reset()
        scen.prepare(w)
        trace = os.path.join(w.dir, "calibrate.trace")
        r = w.ezlb(scen.command(w), strace=["strace", "-f", "-qq", "-o", trace, "-e", "trace=" + ",".join(KILL_SYSCALLS)])
        if r.timed_out or r.rc not in scen.allowed_rcs:
            raise SetupError("uninterrupted run: %s" % r.brief())
        note = scen.rc_note(w, r.rc)
        if r.rc != 0 and not note:
            raise SetupError("uninterrupted run: %s" % r.brief())
        calls = {}   # tid -> syscall -> [args]
        with open(trace) as f:
            for line in f:
                m = re.match(r"^(\d+)\s+(\w+)\((.*)$", line)
                if not m or m.group(2) not in KILL_SYSCALLS:
                    continue
                calls.setdefault(m.group(1), {}).setdefault(m.group(2), []).append(m.group(3))
        points, per_sc = [], {}
        for sc in KILL_SYSCALLS:
            n_max = max([len(c.get(sc, [])) for c in calls.values()] or [0])
            for n in range(1, n_max + 1):
                if sc == "openat" and not any(len(c.get(sc, [])) >= n and self.opens_state(w, c[sc][n - 1]) for c in calls.values()):
                    continue
                points.append((sc, n))
                per_sc[sc] = per_sc.get(sc, 0) + 1
        ref = scen.observe(w) if not scen.abort else None
        problems = state_file_problems(w, allow_tmp=False) + ipam_problems(w, self.expected_ipam(scen, uninterrupted=True))
        if not scen.abort:
            problems += scen.final(w)
        r2 = w.ezlb(scen.command(w))
        problems += changed_false_problems(r2, r.rc)
        if not scen.abort and r2.rc == r.rc:
            after = scen.observe(w)
            if after != ref:
                problems.append("a changed:false re-run changed: " + "; ".join(diff(ref, after)[:4]))
        scen_notes = dict(w.notes)
        b = w.state_json("bridges.json") if os.path.exists(os.path.join(w.state, "bridges.json")) else None
        for br in (b or {}).get("data", {}).get("bridges", []):
            for c in br.get("connections", []):
                scen_notes["veth " + c.get("owner")] = c.get("host_veth")
        self.calib_notes[scen.slug] = scen_notes
        kept = self.keep(w, "uninterrupted", scen.observe(w)) if problems else None
        for p in problems:
            self.fail(scen.name, "uninterrupted run", p, repro=self.repro(scen), kept=kept)
        return r.rc, note, points, per_sc, ref

    @staticmethod
    def opens_state(w, args):
        """An openat of the state directory, a file in it, or the xtables lock."""
        m = re.match(r'\w+, "([^"]*)"', args)
        return bool(m) and (m.group(1) == w.state or m.group(1).startswith(w.state + "/")
                            or m.group(1) == os.path.join(w.dir, "xtables.lock"))

    def expected_ipam(self, scen, uninterrupted=False):
        exp = scen.expected_ipam
        if scen.abort and uninterrupted:
            # An uninterrupted run of the command itself (before any abort) leaves its owner in.
            base = {k: set(v) for k, v in exp.items()}
            if isinstance(scen, IpamAllocateAbort):
                base["10.1.0.0/24"].add("new")
            if isinstance(scen, BridgeConnectAbort):
                base[BR_SUBNET].add(scen.owner_of("c1"))
            return base
        return exp

    def killed_at(self, trace, sc, w):
        """The call the process died on, short: `rename .ipam.json.tmp.* -> ipam.json`,
        `sendmsg RTM_NEWROUTE`, `setsockopt IPT_SO_SET_REPLACE`, `write .bridges.json.tmp.*`."""
        try:
            with open(trace) as f:
                lines = [l for l in f if re.match(r"^\d+\s+%s\(" % sc, l)]
        except OSError:
            return "?"
        if not lines:
            return "?"
        line = lines[-1].split(None, 1)[1].strip()
        line = line.replace(w.state + "/", "").replace(w.dir + "/", "")
        line = re.sub(r"\.tmp\.\d+\.\w+", ".tmp.*", line)
        nl = re.search(r"nlmsg_type=(\w+)", line)
        if nl:
            # strace cannot name the types of a socket opened in another namespace: rtnetlink's.
            return "%s %s" % (sc, RTM_TYPES.get(nl.group(1), nl.group(1)))
        m = re.match(r"setsockopt\([^,]*, (\w+), (\w+)", line)
        if m:
            return "setsockopt %s" % m.group(2)
        m = re.match(r"(write|pwrite64|fsync|fdatasync)\(\d+<([^>]*)>", line)
        if m:
            target = {"0": "stdin"}.get(m.group(2), m.group(2))
            if target.startswith(("pipe:", "/dev/")) or target == w.state:
                fd = re.match(r"\w+\((\d+)", line).group(1)
                target = {"1": "stdout", "2": "stderr"}.get(fd, target) if target != w.state else "state dir"
            return "%s %s" % (m.group(1), target)
        m = re.match(r"openat\(\w+, \"([^\"]*)\"", line)
        if m:
            return "openat %s%s" % (m.group(1), " (create)" if "O_CREAT" in line else "")
        m = re.match(r"(rename\w*)\(.*?\"([^\"]*)\", (?:\w+, )?\"([^\"]*)\"", line)
        if m:
            return "%s %s -> %s" % (m.group(1), m.group(2), m.group(3))
        return re.sub(r"\s*=\s*\?\s*$", "", line)[:100]

    def kill_point(self, scen, w, point, expected_rc, ref, fig):
        sc, n = point
        label = "%s#%d" % point
        w.reset()
        scen.prepare(w)
        trace = os.path.join(w.dir, "kill.trace")
        strace = ["strace", "-f", "-qq", "-y", "-o", trace, "-e", "trace=" + sc, "-e", "inject=%s:signal=SIGKILL:when=%d" % (sc, n)]
        repro = self.repro(scen, point)
        r = w.ezlb(scen.command(w), strace=strace)
        where = "%s %s" % (label, self.killed_at(trace, sc, w))
        fig["run"] += 1
        failed = []

        def bad(invariant, detail=""):
            failed.append((invariant, detail))

        if r.timed_out:
            bad("killed run hung", r.brief())
        elif r.rc not in KILLED:
            if r.rc == expected_rc:
                fig["not_reached"] += 1
                self.vlog("%s: %s not reached (%s)" % (scen.name, label, r.brief()))
                return
            bad("killed run exited %s without being killed" % r.rc, r.brief())
        else:
            fig["killed"] += 1
            for p in state_file_problems(w, allow_tmp=True) + scen.after_kill(w):
                bad("after the kill: " + p)
            if not scen.abort and any(TMP_RE.match(n) for n in os.listdir(w.state)):
                # A second fault: the re-run is killed as it removes the first run's temp file.
                s2 = ["strace", "-f", "-qq", "-o", os.path.join(w.dir, "kill2.trace"), "-e", "trace=unlink,unlinkat",
                      "-e", "inject=unlink,unlinkat:signal=SIGKILL:when=1"]
                r0 = w.ezlb(scen.command(w), strace=s2)
                if r0.rc in KILLED:
                    fig["double_kills"] += 1
                    for p in state_file_problems(w, allow_tmp=True) + scen.after_kill(w):
                        bad("after a second kill (re-run killed at its first unlink): " + p)
                elif r0.rc != expected_rc:
                    bad("re-run after the kill (traced for a second kill)", r0.brief())
            follow = scen.abort_command(w) if scen.abort else scen.command(w)
            r1 = w.ezlb(follow)
            want_rc = 0 if scen.abort else expected_rc
            if r1.rc != want_rc:
                bad("%s after the kill" % ("abort command" if scen.abort else "re-run"), r1.brief())
            else:
                # A no-op abort (nothing to release) is no writer: a killed writer's temp file may
                # stay until the next write (docs/ipam-bridge.md). A re-run must leave none.
                noop_abort = scen.abort and r1.json.get("changed") is False
                for p in state_file_problems(w, allow_tmp=noop_abort):
                    bad("after the %s: %s" % ("abort" if scen.abort else "re-run", p))
                for p in ipam_problems(w, self.expected_ipam(scen)):
                    bad(p)
                for p in scen.final(w):
                    bad(p)
                obs = None
                if not scen.abort:
                    obs = scen.observe(w)
                    d = diff(ref, obs)
                    if d:
                        bad("state differs from an uninterrupted run", "; ".join(d[:4]))
                r2 = w.ezlb(follow)
                for p in changed_false_problems(r2, want_rc):
                    bad(p)
                if not scen.abort and r2.rc == want_rc:
                    d = diff(obs, scen.observe(w))
                    if d:
                        bad("the second re-run changed the state", "; ".join(d[:4]))
        if failed:
            fig["failures"] += 1
            kept = self.keep(w, label, scen.observe(w)) if not self.args.no_keep_failed else None
            for inv, det in failed:
                self.fail(scen.name, where, inv, det, repro=repro, kept=kept)
            with self.mu:
                self.failures[-1]["killed_run"] = w.cmdline(scen.command(w), strace)
        else:
            fig["passes"] += 1
            self.vlog("%s [%s]: ok" % (scen.name, where))

    def part_faults(self):
        for scen in SCENARIOS:
            if not self.selected(scen):
                continue
            if self.over_budget():
                self.fail(scen.name, "-", "time budget exceeded before this command ran")
                continue
            w = World(self, scen.slug, scen.roles, scen.backend)
            fig = {"kill_points": 0, "by_syscall": {}, "run": 0, "killed": 0, "not_reached": 0, "double_kills": 0,
                   "passes": 0, "failures": 0}
            self.figures["kill_points"][scen.name] = fig
            t0 = time.monotonic()
            try:
                try:
                    rc, note, points, per_sc, ref = self.calibrate(scen, w)
                except SetupError as e:
                    self.fail(scen.name, "setup", str(e), repro=self.repro(scen))
                    continue
                fig["kill_points"], fig["by_syscall"] = len(points), per_sc
                if note:
                    fig["note"] = note
                todo = points
                if self.args.point:
                    sc, n = self.args.point.split(":")
                    todo = [(sc, int(n))]
                elif self.quick:
                    todo = points[::3]
                for p in todo:
                    if self.over_budget():
                        self.fail(scen.name, "%s#%d" % p, "time budget exceeded: remaining kill points not run")
                        break
                    try:
                        self.kill_point(scen, w, p, rc, ref, fig)
                    except SetupError as e:
                        fig["failures"] += 1
                        self.fail(scen.name, "%s#%d" % p, "setup", str(e), repro=self.repro(scen, p))
            finally:
                w.teardown()
                fig["seconds"] = round(time.monotonic() - t0, 1)
            self.log("%-42s %3d kill points (%s), %d run, %d killed (+%d second kills), %d not reached, %d pass, %d fail  [%.1fs]%s" % (
                scen.name, fig["kill_points"], " ".join("%s:%d" % kv for kv in sorted(fig["by_syscall"].items())),
                fig["run"], fig["killed"], fig["double_kills"], fig["not_reached"], fig["passes"], fig["failures"], fig["seconds"],
                ("  (" + note + ")") if note else ""))

    def selected(self, scen):
        """--only: exact slugs or names; a word that is no exact slug selects by substring."""
        only = self.args.only
        if not only:
            return True
        exact = {x.slug for x in SCENARIOS} | {x.name for x in SCENARIOS}
        return any(o == scen.slug or o == scen.name or (o not in exact and o in scen.slug) for o in only.split(","))

    # ----- part 2: concurrency

    def spawn_all(self, w, argvs, env):
        t0 = time.monotonic()
        procs = [(a, start(w.argv(a), env=w.env(env), cwd=w.cfg)) for a in argvs]
        return [finish(p, w.argv(a), t0, timeout=CMD_TIMEOUT + 60) for a, p in procs]

    def conc_case(self, name, w, prepare, argvs, check, ok_rc=0,
                  variants=(("lock timeout 0", {"EZLB_LOCK_TIMEOUT": "0"}), ("default lock timeout", {"EZLB_LOCK_TIMEOUT": None}))):
        """16 runs at once on one state dir, `rounds` times per variant: each exits ok_rc (0) or
        75, never anything else; with the default timeout every one gets through."""
        rounds = 1 if self.quick else self.args.rounds
        for vname, env in variants:
            key = "%s, %s" % (name, vname)
            fig = {"rounds": rounds, "runs": 0, "exit_ok": 0, "exit_75": 0, "other": 0, "passes": 0, "failures": 0}
            if ok_rc:
                fig["ok_rc"] = ok_rc
            self.figures["concurrency"][key] = fig
            t0 = time.monotonic()
            for rnd in range(rounds):
                problems = []
                try:
                    w.reset()
                    prepare(w)
                    results = self.spawn_all(w, argvs, env)
                    fig["runs"] += len(argvs)
                    got = 0
                    for a, r in zip(argvs, results):
                        if r.rc == ok_rc:
                            got += 1
                        elif r.rc == EXIT_LOCKED:
                            fig["exit_75"] += 1
                        else:
                            fig["other"] += 1
                            problems.append("%s: %s" % (" ".join(a[:4]), r.brief()))
                    fig["exit_ok"] += got
                    if env.get("EZLB_LOCK_TIMEOUT", "") is None and got != len(argvs):
                        problems.append("with the default lock timeout every run must get through: %d of %d did" % (got, len(argvs)))
                    if got == 0:
                        problems.append("no run got through")
                    problems += state_file_problems(w, allow_tmp=False)
                    problems += check(w, argvs, results, env)
                except SetupError as e:
                    problems.append("setup: " + str(e))
                if problems:
                    fig["failures"] += 1
                    kept = self.keep(w, "%s-%d" % (key, rnd))
                    for p in problems:
                        self.fail("concurrency: " + name, "%s, round %d" % (vname, rnd + 1), p,
                                  repro=self.repro_part("concurrency", w.slug), kept=kept)
                else:
                    fig["passes"] += 1
            fig["seconds"] = round(time.monotonic() - t0, 1)
            self.log("%-58s %d rounds, exit %d: %3d, exit 75: %3d, other: %d  %s  [%.1fs]" % (
                key, rounds, ok_rc, fig["exit_ok"], fig["exit_75"], fig["other"],
                "ok" if not fig["failures"] else "FAIL", fig["seconds"]))

    def repro_part(self, part, slug):
        me = os.path.abspath(sys.argv[0])
        return "python3 %s --bin %s --part %s --only %s --keep" % (shlex.quote(me), shlex.quote(self.args.bin), part, slug)

    def rerun_locked(self, w, argvs, results):
        """Runs the ones that got 75 again, one by one: they must succeed now."""
        out = []
        for a, r in zip(argvs, results):
            if r.rc == EXIT_LOCKED:
                r2 = w.ezlb(a)
                if r2.rc != 0:
                    out.append("re-run of a 75 (%s): %s" % (" ".join(a[:6]), r2.brief()))
        return out

    def all_unchanged(self, w, argvs):
        out = []
        for a in argvs[:3]:
            r = w.ezlb(a + ["-o", "json"])
            out += ["%s: %s" % (" ".join(a[:4]), p) for p in changed_false_problems(r, 0)]
        return out

    def part_concurrency(self):
        N = 16
        owners = ["o%02d" % i for i in range(N)]

        # ipam allocate: 16 owners, one subnet.
        w = World(self, "conc-ipam")
        if self.selected_part(w.slug):
            def prep(w):
                w.write_cfg("ipam.yaml", IPAM_CFG)

            def check(w, argvs, results, env):
                out = []
                got = [o for o, r in zip(owners, results) if r.rc == 0]
                locked = [o for o, r in zip(owners, results) if r.rc == EXIT_LOCKED]
                out += ipam_problems(w, {"10.1.0.0/24": set(got)})
                printed = {o: r.out.strip() for o, r in zip(owners, results) if r.rc == 0}
                filed = ipam_owner_ip(w, "10.1.0.0/24")
                for o in got:
                    if printed[o].split("/")[0] != filed.get(o):
                        out.append("%s printed %s, ipam.json has %s" % (o, printed[o], filed.get(o)))
                if len(set(printed.values())) != len(printed):
                    out.append("two runs printed the same address: %s" % sorted(printed.values()))
                out += self.rerun_locked(w, argvs, results)
                out += ipam_problems(w, {"10.1.0.0/24": set(owners)})
                if "10.1.0.10" in ipam_owner_ip(w, "10.1.0.0/24").values():
                    out.append("reserved 10.1.0.10 handed out")
                return out + self.all_unchanged(w, argvs) + state_file_problems(w, allow_tmp=False)
            argvs = [["ipam", "allocate", "-c", "ipam.yaml", "--subnet", "10.1.0.0/24", "--owner", o] for o in owners]
            self.conc_case("ipam allocate x16", w, prep, argvs, check)

        # ipvs apply (fake): 16 identical applies.
        w = World(self, "conc-ipvs")
        if self.selected_part(w.slug):
            scen = IpvsApply()

            def prep(w):
                scen.prepare(w)

            def check(w, argvs, results, env):
                return scen.final(w) + self.all_unchanged(w, argvs)
            self.conc_case("ipvs apply (fake) x16", w, prep, [scen.command(w)[:-2]] * N, check)

        # xfrm sync (fake): 16 identical syncs of config B over A.
        w = World(self, "conc-xfrm")
        if self.selected_part(w.slug):
            xs = XfrmFake()

            def prep(w):
                xs.prepare(w)

            def check(w, argvs, results, env):
                return xs.final(w) + self.all_unchanged(w, argvs)
            self.conc_case("xfrm sync (fake) x16", w, prep, [xs.command(w)[:-2]] * N, check)

        # snat sync (netns): 16 identical syncs of config B over A.
        w = World(self, "conc-snat", ("h",))
        if self.selected_part(w.slug):
            ss = SnatSync()
            try:
                def prep(w):
                    ss.prepare(w)

                def check(w, argvs, results, env):
                    return ss.final(w) + self.all_unchanged(w, argvs)
                self.conc_case("snat sync (netns) x16", w, prep, [ss.command(w)[:-2]] * N, check)
            finally:
                w.teardown()

        # xfrm sync (netns). Without ESP in the kernel every run is refused at its first SA
        # (exit 1, as XfrmNetnsTests expects): then 1 or 75 only, and never a policy left.
        w = World(self, "conc-xfrmns", ("h",))
        if self.selected_part(w.slug):
            xn = XfrmNetns()
            try:
                w.reset()
                esp = xn.has_esp(w)

                def prep(w):
                    xn.prepare(w)

                def check(w, argvs, results, env):
                    return xn.final(w) + (self.all_unchanged(w, argvs) if esp else [])
                self.conc_case("xfrm sync (netns%s) x16" % ("" if esp else ", no ESP: refused"), w, prep,
                               [xn.command(w)[:-2]] * N, check, ok_rc=0 if esp else 1)
            finally:
                w.teardown()

        # bridge connect (netns): 16 owners, each into its own container namespace.
        roles = ["h"] + ["c%02d" % i for i in range(N)]
        w = World(self, "conc-br", roles)
        if self.selected_part(w.slug):
            bs = BridgeBase()
            try:
                def prep(w):
                    bs.host_setup(w)
                    bs.create(w)

                def check(w, argvs, results, env):
                    out = []
                    ok = [c for c, r in zip(roles[1:], results) if r.rc == 0]
                    out += ipam_problems(w, {BR_SUBNET: set(ok)})
                    out += self.bridge_conc_problems(w, roles[1:], set(ok))
                    out += self.rerun_locked(w, argvs, results)
                    out += ipam_problems(w, {BR_SUBNET: set(roles[1:])})
                    out += self.bridge_conc_problems(w, roles[1:], set(roles[1:]))
                    return out + self.all_unchanged(w, argvs)
                argvs = [["bridge", "connect", BR, "--netns", w.ns(c), "--owner", c] for c in roles[1:]]
                self.conc_case("bridge connect (netns) x16", w, prep, argvs, check)
            finally:
                w.teardown()
        self.conc_mixed()

    def conc_mixed(self):
        """8 bridge connects and 8 ipam allocates in the bridge's subnet at once: both take
        addresses from the same ipam.json under ipam.lock."""
        M = 8
        roles = ["h"] + ["c%02d" % i for i in range(M)]
        w = World(self, "conc-mixed", roles)
        if not self.selected_part(w.slug):
            return
        bs = BridgeBase()
        try:
            def prep(w):
                bs.host_setup(w)
                bs.create(w)
            conns = [["bridge", "connect", BR, "--netns", w.ns(c), "--owner", c] for c in roles[1:]]
            allocs = [["ipam", "allocate", "-c", "ipam.yaml", "--subnet", BR_SUBNET, "--owner", "m%02d" % i] for i in range(M)]
            argvs = [a for pair in zip(conns, allocs) for a in pair]

            def owner(a):
                return a[a.index("--owner") + 1]

            def check(w, argvs, results, env):
                ok = {owner(a) for a, r in zip(argvs, results) if r.rc == 0}
                out = ipam_problems(w, {BR_SUBNET: ok})
                out += self.bridge_conc_problems(w, roles[1:], ok & set(roles[1:]))
                out += self.rerun_locked(w, argvs, results)
                everyone = {owner(a) for a in argvs}
                out += ipam_problems(w, {BR_SUBNET: everyone})
                out += self.bridge_conc_problems(w, roles[1:], set(roles[1:]))
                if BR_GW in ipam_owner_ip(w, BR_SUBNET).values():
                    out.append("the gateway %s was handed out" % BR_GW)
                return out + self.all_unchanged(w, argvs)
            self.conc_case("bridge connect x8 + ipam allocate x8 (one subnet)", w, prep, argvs, check)
        finally:
            w.teardown()

    def bridge_conc_problems(self, w, containers, connected):
        out = []
        ips = ipam_owner_ip(w, BR_SUBNET)
        links = {l["ifname"]: l for l in ip_json(w, "h", ["link", "show"]) or []}
        veths = [n for n in links if n.startswith("ez") and n != BR]
        if len(veths) != len(connected):
            out.append("%d host veths for %d connected owners" % (len(veths), len(connected)))
        for c in containers:
            addrs = addrs_obs(w, c)
            if c in connected:
                if ["eth0", "%s/24" % ips.get(c)] not in addrs:
                    out.append("%s: eth0 lacks %s/24 (has %s)" % (c, ips.get(c), addrs))
                if ["default", BR_GW, "eth0"] not in routes_obs(w, c):
                    out.append("%s: no default route" % c)
            elif [l[0] for l in links_obs(w, c)] != ["lo"]:
                out.append("%s: exited 75 but its namespace has %s" % (c, [l[0] for l in links_obs(w, c)]))
        return out

    def selected_part(self, slug):
        only = self.args.only
        return not only or any(o in slug for o in only.split(","))

    # ----- part 3: locks honour EZLB_LOCK_TIMEOUT

    def part_locks(self):
        cases = []   # (label, world factory, prepare, argv)

        def fake_case(label, slug, prep, argv):
            cases.append((label, slug, (), prep, argv))

        ip = IpamAllocate()
        fake_case("ipam allocate", "lk-ipam", ip.prepare, ip.command(None)[:-2])
        rel = IpamRelease()
        fake_case("ipam release", "lk-ipamrel", rel.prepare, rel.command(None)[:-2])
        iv = IpvsApply()
        fake_case("ipvs apply (fake)", "lk-ipvs", iv.prepare, iv.command(None)[:-2])
        ic = IpvsCleanup()
        fake_case("ipvs cleanup (fake)", "lk-ipvsclean", ic.prepare, ic.command(None)[:-2])
        xf = XfrmFake()
        fake_case("xfrm sync (fake)", "lk-xfrm", xf.prepare, xf.command(None)[:-2])

        def snat_fake_prep(w):
            w.write_cfg("b.yaml", SNAT_B)
        fake_case("snat sync (fake)", "lk-snat", snat_fake_prep, ["snat", "sync", "-c", "b.yaml"])

        def br_fake_prep(w):
            with open(os.path.join(w.state, "fake-kernel.json"), "w") as f:
                json.dump({"schema": 1, "kind": "fake-kernel", "data": {"net": {"links": [], "namespaces": ["/run/netns/c1"], "routes": []}}}, f)
            w.must(["bridge", "create", BR, "--subnet", BR_SUBNET])
        fake_case("bridge connect (fake)", "lk-br", br_fake_prep, ["bridge", "connect", BR, "--netns", "c1", "--owner", "c1"])
        ss = SnatSync()
        cases.append(("snat sync (netns)", "lk-snatns", ("h",), ss.prepare, ss.command(None)[:-2]))
        bc = BridgeConnect()
        cases.append(("bridge connect (netns)", "lk-brns", ("h", "c0", "c1"), bc.prepare, None))
        bcr = BridgeCreate()
        cases.append(("bridge create (netns)", "lk-brcr", ("h",), bcr.prepare, bcr.command(None)[:-2]))

        jobs = []
        slug_of = {c[0]: c[1] for c in cases}
        for label, slug, roles, prep, argv in cases:
            if self.args.only and not any(o in slug for o in self.args.only.split(",")):
                continue
            # Which lock files does the command take? Run it once and look.
            w = World(self, slug + "-probe", roles)
            try:
                w.reset()
                prep(w)
                a = argv or ["bridge", "connect", BR, "--netns", w.ns("c1"), "--owner", "c1"]
                trace = os.path.join(w.dir, "locks.trace")
                r = w.ezlb(a, strace=["strace", "-f", "-qq", "-o", trace, "-e", "trace=openat"])
                if r.rc != 0:
                    self.fail("locks: " + label, "probe", "uninterrupted run failed", r.brief())
                    continue
                # The lock files this command opens (not those its preparation left behind).
                with open(trace) as f:
                    opened = set(re.findall(r'openat\(\w+, "([^"]+\.lock)"', f.read()))
                locks = sorted(os.path.relpath(p, w.state) for p in opened if p.startswith(w.dir + "/"))
            except SetupError as e:
                self.fail("locks: " + label, "probe", "setup", str(e))
                continue
            finally:
                w.teardown()
            self.figures["locks"][label] = {"locks": locks}
            for i, lock in enumerate(locks):
                for timeout in ("1", "0"):
                    jobs.append((label, "%s-%d%s" % (slug, i, timeout), roles, prep, argv, lock, timeout))

        def one(job):
            label, slug, roles, prep, argv, lock, timeout = job
            w = World(self, slug, roles)
            try:
                w.reset()
                prep(w)
                a = argv or ["bridge", "connect", BR, "--netns", w.ns("c1"), "--owner", "c1"]
                path = os.path.normpath(os.path.join(w.state, lock))
                snap = self.snapshot(w)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    r = w.ezlb(a, env={"EZLB_LOCK_TIMEOUT": timeout}, timeout=20)
                finally:
                    os.close(fd)
                problems = []
                lo, hi = (0.8, 3.5) if timeout == "1" else (0.0, 1.5)
                if r.rc != EXIT_LOCKED:
                    problems.append("exit %s, expected 75 (%s)" % (r.rc, r.brief()))
                elif not lo <= r.elapsed <= hi:
                    problems.append("exit 75 after %.2fs, expected %.1f-%.1fs" % (r.elapsed, lo, hi))
                if self.snapshot(w) != snap:
                    problems.append("a run that got 75 changed the state: %s" % "; ".join(diff(snap, self.snapshot(w))[:3]))
                return (label, lock, timeout, r.elapsed, problems, w.cmdline(a))
            except SetupError as e:
                return (label, lock, timeout, 0.0, ["setup: %s" % e], "")
            finally:
                w.teardown()

        with ThreadPoolExecutor(max_workers=6) as ex:
            results = list(ex.map(one, jobs))
        for label, lock, timeout, elapsed, problems, cmd in results:
            fig = self.figures["locks"][label]
            fig.setdefault("cases", []).append({"lock": lock, "EZLB_LOCK_TIMEOUT": timeout, "seconds": round(elapsed, 2),
                                                "ok": not problems})
            for p in problems:
                self.fail("locks: " + label, "%s held, EZLB_LOCK_TIMEOUT=%s" % (lock, timeout), p,
                          repro=self.repro_part("locks", slug_of[label]) + "   (the run: flock on %s held, then %s)" % (lock, cmd))
        for label, fig in self.figures["locks"].items():
            cs = fig.get("cases", [])
            self.log("%-30s locks %-58s %d/%d exit 75 in time" % (label, ",".join(fig["locks"]), sum(c["ok"] for c in cs), len(cs)))

    def snapshot(self, w):
        out = {}
        for n in sorted(os.listdir(w.state)):
            if n.endswith(".lock"):
                continue
            with open(os.path.join(w.state, n), "rb") as f:
                out[n] = hashlib.sha256(f.read()).hexdigest()[:16]
        if w.roles:
            out["iptables"] = iptables_obs(w, "h")
            out["links"] = links_obs(w, "h", lambda n: False)
        return out

    # -----

    def prepare_binary(self):
        deadline = time.monotonic() + 120
        while True:
            try:
                shutil.copy2(self.args.bin, self.bin)
                os.chmod(self.bin, 0o755)
                r = run([self.bin, "--help"], env=self.base_env, timeout=20)
                if r.rc == 0:
                    return
                err = r.brief()
            except OSError as e:
                err = str(e)
            if time.monotonic() > deadline:
                self.bail("%s is not runnable: %s" % (self.args.bin, err))
            time.sleep(2)   # being rebuilt: wait for it

    def preflight(self):
        """Exit 2 (not 1: no invariant was checked) when this host cannot run the suite."""
        missing = [t for t in ("ip", "strace", "iptables-legacy", "iptables-legacy-save", "ip6tables-legacy-save")
                   if shutil.which(t) is None]
        if missing:
            self.bail("needs %s (apt-get install iproute2 iptables strace)" % ", ".join(missing))
        if os.geteuid() != 0:
            self.bail("needs root (network namespaces)")
        r = run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=getpid", "-e", "inject=getpid:retval=1:when=1", "true"], timeout=20)
        if r.rc != 0:
            self.bail("strace cannot trace or inject here (ptrace restricted?): %s" % r.brief())
        stale = [l.split()[0] for l in run(["ip", "netns", "list"], timeout=10).out.splitlines() if l.startswith("ezlbfi-")]
        if stale:
            self.log("note: namespaces of an earlier, killed run are left: %s (ip netns del NAME)" % " ".join(stale[:8]))

    def bail(self, msg):
        print("faults.py: " + msg, file=sys.stderr)
        shutil.rmtree(self.workdir, ignore_errors=True)
        sys.exit(2)

    def summary(self):
        elapsed = time.monotonic() - self.t0
        kp = self.figures["kill_points"]
        self.log("")
        self.log("== summary (%.0fs%s)" % (elapsed, ", quick: every 3rd kill point" if self.quick else ""))
        cols = ("kill_points", "run", "killed", "double_kills", "not_reached", "passes", "failures")
        self.log("%-42s %6s %5s %7s %8s %10s %5s %5s" % ("command", "points", "run", "killed", "2nd kill", "unreached", "pass", "fail"))
        for name, f in list(kp.items()) + [("total", {c: sum(f.get(c, 0) for f in kp.values()) for c in cols})]:
            self.log("%-42s %6d %5d %7d %8d %10d %5d %5d" % ((name,) + tuple(f.get(c, 0) for c in cols)))
        conc = self.figures["concurrency"]
        self.log("concurrency: %d cases, %d failed" % (len(conc), sum(c.get("failures", 0) for c in conc.values())))
        lk = [c for f in self.figures["locks"].values() for c in f.get("cases", [])]
        self.log("locks: %d cases, %d failed" % (len(lk), sum(not c["ok"] for c in lk)))
        self.figures["seconds"] = round(elapsed, 1)
        self.figures["quick"] = self.quick
        self.figures["binary"] = self.args.bin
        self.figures["failures"] = self.failures
        if self.failures:
            self.log("")
            self.log("== %d failures" % len(self.failures))
            seen = set()
            for f in self.failures:
                self.log("- %s [%s]: %s%s" % (f["command"], f["where"], f["invariant"], (": " + short(f["detail"], 300)) if f["detail"] else ""))
                key = (f["command"], f["repro"])
                if f["repro"] and key not in seen:
                    seen.add(key)
                    self.log("    reproduce: %s" % f["repro"])
                if f.get("kept"):
                    self.log("    kept: %s" % f["kept"])
        if self.args.figures:
            with open(self.args.figures, "w") as fh:
                json.dump(self.figures, fh, indent=1, sort_keys=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the ezlb binary (copied first: a rebuild during the run does not matter)")
    ap.add_argument("--quick", action="store_true", help="every 3rd kill point only")
    ap.add_argument("--figures", help="write the figures (kill points, passes, failures) as JSON here")
    ap.add_argument("--only", help="comma-separated scenario slugs or substrings (e.g. br-connect,ipam)")
    ap.add_argument("--point", help="one kill point SYSCALL:N (with --only)")
    ap.add_argument("--part", choices=["all", "faults", "concurrency", "locks"], default="all")
    ap.add_argument("--workdir", help="directory for state dirs and kept failures (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory even when everything passes")
    ap.add_argument("--no-keep-failed", action="store_true", help="do not copy failing state dirs aside")
    ap.add_argument("--budget", type=float, default=330, help="seconds; past it the remaining kill points fail (default 330)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each concurrency case (default 3; 1 with --quick)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)

    suite = Suite(args)
    suite.preflight()

    def on_signal(sig, frame):
        raise KeyboardInterrupt("signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        suite.prepare_binary()
        suite.log("ezlb fault injection: %s (copied to %s)%s" % (args.bin, suite.bin, ", quick" if args.quick else ""))
        if args.part in ("all", "faults"):
            suite.log("== kill points")
            suite.part_faults()
        if args.part in ("all", "concurrency") and not args.point:
            suite.log("== concurrency (16 runs, one state dir)")
            suite.part_concurrency()
        if args.part in ("all", "locks") and not args.point:
            suite.log("== locks honour EZLB_LOCK_TIMEOUT")
            suite.part_locks()
    except KeyboardInterrupt as e:
        suite.fail("suite", "-", "interrupted (%s)" % (e or "SIGINT"))
    finally:
        NS.delete_all()
    suite.summary()
    if suite.failures or args.keep:
        print("work directory kept: %s" % suite.workdir)
    else:
        shutil.rmtree(suite.workdir, ignore_errors=True)
    sys.exit(1 if suite.failures else 0)


if __name__ == "__main__":
    main()
