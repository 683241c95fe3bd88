#!/usr/bin/env python3
"""ezlb input-hardening fuzz suite (python3 stdlib only; run as root).

    python3 Tests/hardening/fuzz.py --bin .build/debug/ezlb [--figures FILE] [--seed N]
                                    [--jobs N] [--timeout S] [--only REGEX] [--keep] [--list]

Every run of the binary goes to the fake kernel (--backend fake, or an
unprivileged uid when the backend is deliberately left unset/empty); nothing
here ever selects --backend kernel.

For every input surface (ipvs / snat / xfrm configs, the xfrm key and pods files,
the raft config, every state file, CLI flags and environment variables) it builds
a deterministic corpus of malformed inputs (mutations of valid seeds) and checks,
for each run:

  * exit status: 78 for a bad config/state file, 64 for a usage error (a few
    documented exceptions are listed with the case: unknown keys warn, a torn
    convergence cache is a miss, ...);
  * stderr is exactly one line starting "ezlb: error:" that names the file;
  * no raw control characters (C0 but newline, DEL, C1, bidi overrides) and
    no invalid UTF-8 on stdout/stderr;
  * no signal, no timeout (--timeout; raft serve 3 s: a serve that starts on a
    bad config is a failure), RSS under --max-rss (256 MiB) and the address
    space under --as-limit (1 GiB, prlimit);
  * the state directory (every file's bytes, except *.lock) is byte-identical
    before and after the run, with no stray temp files.

Documented exceptions: an unknown key must be warned about (exit 0, a warning
naming it) or refused; a torn/alien convergence cache (*.converged) is a miss
(exit 0, "no changes", the cache rewritten to the same bytes or left alone);
a few legal-but-odd CLI values (an owner with ESC) may be used, escaped.

Runs that could reach a real kernel never happen: kernel-facing commands get
--backend fake, and the cases that test an empty/bad EZLB_BACKEND (no flag)
run as uid 65534, where a fallback to the kernel fails with EPERM.

The state directory is seeded with a real converged state (ipam, bridge,
ipvs, snat, xfrm on the fake kernel) first; every seed command is re-run as a
control that must exit 0 and leave the state byte-identical, so a failure is
the product's, not the harness's.

Exit status: 0 all passed, 1 some input failed (summary on stdout), 2 the
harness could not establish its baseline.
"""

import argparse
import json
import os
import random
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

EX_USAGE = 64
EX_CONFIG = 78
NOBODY = 65534
BIG_FILE = 4 << 20          # snapshot files above this by (size, mtime) only
HUGE = 200 << 20            # the sparse "huge file" input
READ_CAP = 1 << 20          # bytes of stdout/stderr inspected

# --------------------------------------------------------------------------------------------
# Seeds

BASE_YAML = """\
# ezlb fuzz base config: ipvs + snat (no probes: every health check disabled)
services:
  - name: web
    listen: 10.0.0.1:80
    protocol: tcp
    scheduler: wrr
    persistence: 300
    persistence_netmask: 24
    forward: masq
    health_check: {enabled: false}
    backends:
      - address: 192.168.1.10:8080
        weight: 5
      - address: 192.168.1.11:8080
        weight: 3
        upper_threshold: 100
        lower_threshold: 10
  - name: dns
    listen: 10.0.0.3:53
    protocol: udp
    scheduler: rr
    full_nat: true
    snat_ip: 10.0.0.3
    backends:
      - address: 192.168.4.10:53
      - address: 192.168.4.11:53
  - name: web-v6
    listen: "[2001:db8::10]:443"
    scheduler: sh
    sched_flags: [sh-port, sh-fallback]
    health_check:
      enabled: false
      type: tcp
    backends:
      - address: "[2001:db8:1::10]:443"
        weight: 2
  - name: marked
    fwmark: 7
    family: ipv4
    scheduler: mh
    forward: route
    backends:
      - address: 192.168.5.10
ipam:
  reserved: [10.1.0.10, 10.1.0.200-10.1.0.254]
"""

HEALTH_YAML = """\
# ezlb fuzz health config: exec probes only (local, deterministic)
services:
  - name: ok
    listen: 10.0.0.1:80
    health_check:
      type: exec
      command: "true"
      args: [--probe]
      interval: 1s
      timeout: 2s
      fail_count: 1
      rise_count: 1
      on_unhealthy: quiesce
    backends:
      - address: 192.168.1.10:8080
        weight: 5
  - name: bad
    listen: 10.0.0.2:80
    health_check:
      type: exec
      command: "false"
      timeout: 2s
      fail_count: 1
      rise_count: 2
      on_unhealthy: remove
    sorry_server: 192.168.9.9:8080
    backends:
      - address: 192.168.2.10:8080
"""

IPSEC_YAML = """\
# ezlb fuzz ipsec config (key and pods file relative to this file)
ipsec:
  local: 192.168.0.1
  key_file: psk
  algorithm: rfc4106(gcm(aes))
  key_bits: 128
  generation: 1
  rotation_delay: 5m
  pods: [10.244.1.0/28]
  pods_file: pods.json
  peers:
    - address: 192.168.0.2
      pods: [10.244.2.0/28]
    - address: 192.168.0.3
      pods: [10.244.3.0/28]
"""

PODS_JSON = {"local": ["10.244.1.16/28"], "peers": {"192.168.0.2": ["10.244.2.16/28"],
                                                      "192.168.0.3": ["10.244.3.20"]}}
PSK = "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef\n"

RAFT_YAML = """\
# ezlb fuzz raft config (@CASE@/@PORT@ filled in per case)
node:
  id: n1
  raft_addr: "127.0.0.1:@PORT@"
  data_dir: "@CASE@/raftdata"
cluster:
  nodes:
    - {id: n1, addr: "127.0.0.1:@PORT@"}
    - {id: n2, addr: "127.0.0.1:@PORT2@"}
  election_timeout: 1s
  heartbeat: 100ms
  master_guard: 1500ms
hooks:
  enabled: true
  timeout: 10s
  on_failure: continue
  retry_attempts: 3
  retry_backoff: 1s
  debounce: 1s
  ToReady:
    command: "true"
    args: ["--x"]
    timeout: 5s
    on_failure: continue
    environment:
      NODE: "{{.NodeID}}"
logging:
  level: info
  format: text
  output: stderr
"""

FAKE_KERNEL_SEED = ('{"schema":1,"kind":"fake-kernel","data":{"net":{"links":[],'
                    '"namespaces":["/run/netns/c1"],"routes":[]}}}')

# --------------------------------------------------------------------------------------------
# Small helpers


def now():
    return time.monotonic()


def shq(s):
    """Shell-quote a str/bytes, with $'..' for anything not printable ASCII."""
    b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
    if b and all(0x20 <= c < 0x7f for c in b):
        return shlex.quote(b.decode())
    if not b:
        return "''"
    out = []
    for c in b:
        ch = chr(c)
        if ch == "'" or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= c < 0x7f:
            out.append(ch)
        else:
            out.append("\\x%02x" % c)
    return "$'" + "".join(out) + "'"


def yq(s):
    """A YAML double-quoted scalar for s (escapes for every control/bidi/non-ASCII char)."""
    out = []
    for ch in s:
        c = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= c < 0x7f:
            out.append(ch)
        elif c <= 0xff:
            out.append("\\x%02x" % c)
        elif c <= 0xffff:
            out.append("\\u%04x" % c)
        else:
            out.append("\\U%08x" % c)
    return '"' + "".join(out) + '"'


BAD_OUT_CHARS = re.compile("[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def output_problem(data):
    """None, or why this stdout/stderr would be unsafe on a terminal."""
    for i, c in enumerate(data):
        if (c < 0x20 and c != 0x0a) or c == 0x7f:
            return "raw control byte 0x%02x at offset %d" % (c, i)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return "invalid UTF-8 at offset %d" % e.start
    m = BAD_OUT_CHARS.search(text)
    if m:
        return "raw U+%04X (C1/bidi control)" % ord(m.group())
    return None


def snapshot(root):
    """{relpath: fingerprint} of everything under root except *.lock."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = os.path.relpath(dirpath, root)
        for d in list(dirnames):
            p = os.path.join(dirpath, d)
            if os.path.islink(p):
                dirnames.remove(d)
                filenames.append(d)
            else:
                snap[os.path.normpath(os.path.join(rel, d))] = ("dir",)
        for f in filenames:
            if f.endswith(".lock"):
                continue
            p = os.path.join(dirpath, f)
            key = os.path.normpath(os.path.join(rel, f))
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                snap[key] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                if st.st_size > BIG_FILE:
                    snap[key] = ("big", st.st_size, st.st_mtime_ns, st.st_ino)
                else:
                    with open(p, "rb") as fh:
                        snap[key] = ("file", fh.read(), stat.S_IMODE(st.st_mode))
            elif stat.S_ISFIFO(st.st_mode):
                snap[key] = ("fifo",)
            elif stat.S_ISSOCK(st.st_mode):
                snap[key] = ("socket",)
            else:
                snap[key] = ("other", stat.S_IFMT(st.st_mode))
    return snap


def diff_snap(a, b):
    out = []
    for k in sorted(set(a) | set(b)):
        if k not in a:
            out.append("+" + k)
        elif k not in b:
            out.append("-" + k)
        elif a[k] != b[k]:
            out.append("~" + k)
    return out


# --------------------------------------------------------------------------------------------
# Cases


class Case:
    """One input: file operations on a fresh copy of a seed, then one command."""

    def __init__(self, surface, family, desc, argv, seed="main", ops=(), expect=(EX_CONFIG,),
                 mode="reject", names=None, env=None, nobody=False, timeout=None, token=None,
                 target=None):
        self.surface = surface
        self.family = family        # mutation family: failures are classed by it
        self.desc = desc
        self.argv = list(argv)      # tokens; @BIN@ @STATE@ @CONF@ @CASE@ substituted
        self.seed = seed            # main | health | raft
        self.ops = list(ops)        # ("write", rel, bytes[, mode]) ("fifo", rel) ("dir", rel)
                                    # ("symlink", rel, target) ("sparse", rel, size) ("chmod", rel, mode)
        self.expect = set(expect)
        self.mode = mode            # reject | warn | miss | tolerant | noserve
        self.names = names          # text the error line must contain (file basename, variable)
        self.env = env or {}
        self.nobody = nobody
        self.timeout = timeout
        self.token = token          # warn mode: the unknown key the warning must name
        self.target = target        # miss mode: the cache file
        self.id = None


class Big:
    """prefix + unit * count + suffix, written in chunks: the corpus holds no 10 MB strings (the harness's
    own RSS would otherwise show up in every child's ru_maxrss, which survives fork and exec)."""

    def __init__(self, prefix, unit, count, suffix=b""):
        self.prefix, self.unit, self.count, self.suffix = prefix, unit, count, suffix

    def __len__(self):
        return len(self.prefix) + len(self.unit) * self.count + len(self.suffix)

    def map(self, fn):
        return Big(fn(self.prefix), self.unit, self.count, fn(self.suffix))

    def write_to(self, fh):
        fh.write(self.prefix)
        per = max(1, (1 << 16) // len(self.unit))
        chunk = self.unit * per
        n = self.count
        while n >= per:
            fh.write(chunk)
            n -= per
        fh.write(self.unit * n)
        fh.write(self.suffix)


def w(rel, data, mode=0o600):
    return ("write", rel, data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data, mode)


SPECIALS = [
    # (family, description, op builder)
    ("special:dev-zero", "-c /dev/zero-like: symlink to /dev/zero", lambda rel: ("symlink", rel, "/dev/zero")),
    ("special:fifo", "a FIFO nobody writes to", lambda rel: ("fifo", rel)),
    ("special:directory", "a directory", lambda rel: ("dir", rel)),
    ("special:huge-sparse", "a 200 MB sparse file (NUL bytes)", lambda rel: ("sparse", rel, HUGE)),
]


def yaml_lines(text):
    return text.splitlines(keepends=True)


KEYLINE = re.compile(r"^(\s*(?:- )?)([A-Za-z_][A-Za-z0-9_]*):( ?)(.*?)(\n?)$")


def key_sites(text):
    """[(line_index, key, value)] for every 'key: value' line."""
    out = []
    for i, line in enumerate(yaml_lines(text)):
        m = KEYLINE.match(line)
        if m:
            out.append((i, m.group(2), m.group(4)))
    return out


def set_value(text, line_index, new_value):
    lines = yaml_lines(text)
    m = KEYLINE.match(lines[line_index])
    lines[line_index] = "%s%s: %s%s" % (m.group(1), m.group(2), new_value, m.group(5) or "\n")
    return "".join(lines)


def insert_after(text, line_index, new_line):
    lines = yaml_lines(text)
    lines.insert(line_index + 1, new_line if new_line.endswith("\n") else new_line + "\n")
    return "".join(lines)


def yaml_truncations(text, required, enums, rng, limit):
    """Prefixes of text cut at structural points that cannot be a valid config:
    inside a quoted scalar or a flow collection, right after 'key:' of a required key,
    after a bare '- ', inside a key, inside an address or an enum value."""
    cuts = []
    offset = 0
    for line in yaml_lines(text):
        body = line.rstrip("\n")
        m = KEYLINE.match(line)
        stripped = body.lstrip()
        if stripped.startswith("#") or not stripped:
            offset += len(line)
            continue
        indent = len(body) - len(stripped)
        if stripped.startswith("- "):
            cuts.append((offset + indent + 2, "after a bare '- '"))
        if m:
            key, val = m.group(2), m.group(4)
            kstart = len(m.group(1))
            if len(key) > 2:
                cuts.append((offset + kstart + len(key) // 2, "inside key %r" % key))
            vstart = kstart + len(key) + 1 + len(m.group(3))
            if key in required:
                cuts.append((offset + kstart + len(key) + 1, "right after '%s:'" % key))
            for j, ch in enumerate(val):
                pos = offset + vstart + j
                if ch in "[{\"":
                    close = {"[": "]", "{": "}", '"': '"'}[ch]
                    end = val.find(close, j + 1) if ch == '"' else val.rfind(close)
                    if end > j:
                        inner = list(range(j + 1, end + 1))
                        for k in sorted(set(rng.sample(inner, min(3, len(inner))))):
                            cuts.append((offset + vstart + k, "inside %s...%s of '%s'" % (ch, close, key)))
                    break
            else:
                if key in enums and len(val) > 1:
                    cuts.append((offset + vstart + len(val) - 1, "inside enum value of '%s'" % key))
                if re.match(r"^\d+\.\d+\.\d+\.\d+(:\d+)?$", val):
                    cuts.append((offset + vstart + val.index(".") + 1, "inside the address of '%s'" % key))
                    if ":" in val:
                        cuts.append((offset + vstart + val.index(":") + 1, "after ':' of the address of '%s'" % key))
        offset += len(line)
    seen = set()
    uniq = []
    for pos, why in cuts:
        if pos not in seen and 0 < pos < len(text):
            seen.add(pos)
            uniq.append((pos, why))
    if len(uniq) > limit:
        uniq = sorted(rng.sample(uniq, limit))
    return [(text[:pos], why) for pos, why in uniq]


LONG = "9" * 100000


def first_value(b, new):
    """b with the first 'key: ' outside a comment line followed by new."""
    out = []
    done = False
    for line in b.split(b"\n"):
        if not done and not line.lstrip().startswith(b"#") and b": " in line:
            line = line.replace(b": ", b": " + new, 1)
            done = True
        out.append(line)
    return b"\n".join(out)


def generic_yaml(text, top_key):
    """(family, desc, bytes) for the mutations every YAML config gets."""
    b = text.encode()
    lines = yaml_lines(text)
    mid = len(lines) // 2
    out = [
        ("empty", "zero-byte file", b""),
        ("empty", "comment-only file", b"# nothing here\n# at all\n"),
        ("empty", "whitespace and newlines only", b"\n   \n\t\n"),
        ("empty", "'%s:' with no value" % top_key, ("%s:\n" % top_key).encode()),
        ("empty", "'%s: ~'" % top_key, ("%s: ~\n" % top_key).encode()),
        ("empty", "'%s: null' and a comment" % top_key, ("# c\n%s: null\n" % top_key).encode()),
        ("empty", "'{}' (an empty mapping)", b"{}\n"),
        ("empty", "a lone document marker", b"---\n"),
        ("empty", "document end only", b"...\n"),
        ("wrong-type:top", "top level is a sequence", b"- a\n- b\n"),
        ("wrong-type:top", "top level is a scalar", b"just a string\n"),
        ("wrong-type:top", "top level is a number", b"42\n"),
        ("wrong-type:top", "'%s' is a string" % top_key, ("%s: hello\n" % top_key).encode()),
        ("wrong-type:top", "'%s' is a number" % top_key, ("%s: 12\n" % top_key).encode()),
        ("wrong-type:top", "'%s' is a sequence of nulls" % top_key, ("%s: [~, ~]\n" % top_key).encode()),
        ("nul", "NUL as the first byte", b"\x00" + b),
        ("nul", "NUL in the middle", b[: len(b) // 2] + b"\x00" + b[len(b) // 2:]),
        ("nul", "NUL as the last byte", b + b"\x00"),
        ("nul", "only NUL bytes", b"\x00" * len(b)),
        ("control-char", "raw ESC in a comment line", b"# \x1b[31mred\n" + b),
        ("control-char", "raw ESC inside a value", "".join(lines[:mid]).encode() + b"  \x1b[2J\n" + "".join(lines[mid:]).encode()),
        ("control-char", "raw BEL inside a value", first_value(b, b"a\x07")),
        ("invalid-utf8", "0xff byte in a comment", b"# \xff\xfe\n" + b),
        ("invalid-utf8", "overlong '/' (0xc0 0xaf) in a value", first_value(b, b"\xc0\xaf")),
        ("invalid-utf8", "0xfe 0xff bytes mid-file", b[: len(b) // 3] + b"\xfe\xff" + b[len(b) // 3:]),
        ("invalid-utf8", "lone surrogate bytes", first_value(b, b"\xed\xa0\x80")),
        ("deep-nesting", "100,000 '[' at the top", b"[" * 100000 + b"\n"),
        ("deep-nesting", "100,000 '[' under '%s:'" % top_key, ("%s: " % top_key).encode() + b"[" * 100000 + b"\n"),
        ("deep-nesting", "100,000 '{a: ' under '%s:'" % top_key, ("%s: " % top_key).encode() + b"{a: " * 100000 + b"\n"),
        ("deep-nesting", "5,000 nested block sequences", ("%s:\n" % top_key).encode()
         + b"".join(b" " * (i + 1) + b"-\n" for i in range(5000))),
        ("alias-bomb", "billion laughs (9 levels of 9 aliases) as '%s'" % top_key,
         ("a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
             "a%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 9)) for i in range(1, 9))
          + "%s: [*a8, *a8, *a8, *a8, *a8, *a8, *a8, *a8, *a8]\n" % top_key).encode()),
        ("long-string", "a 10 MB key", Big(b"", b"k", 10 << 20, b": 1\n" + b)),
        ("long-string", "a 100,000-digit number as the whole file", LONG.encode() + b"\n"),
        ("multi-document", "a second document that empties the first", b + b"---\n%s: []\n" % top_key.encode()),
        ("duplicate-key", "'%s' twice at the top" % top_key, b + ("%s: ~\n" % top_key).encode()),
        ("syntax", "a tab used for indentation", b.replace(b"\n  ", b"\n\t", 3)),
        ("syntax", "an unterminated quote on the first value line", first_value(b, b'"')),
        ("syntax", "an undefined alias", first_value(b, b"*nope ")),
    ]
    return out


def special_cases(rel):
    return [(fam, desc, [op(rel)]) for fam, desc, op in SPECIALS]


# ---- value mutations, per key: every value here is invalid wherever the key appears -----------

COMMON_BAD = {
    "listen": ["10.0.0.256:80", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:-1", ":80", "10.0.0.1",
               "10.0.0.1:80:80", '"[2001:db8::10:443"', '"[::g]:80"', "1.2.3:80", "[]", "{}", "80", "true",
               "10.0.0.1:99999999999999999999", '"' + "1" * 100000 + ':80"', yq("10.0.0.1\x1b[31m:80"),
               yq("10.0.0.1:80\n"), "10.0.0.1:http"],
    "protocol": ["icmp", "6", "[]", '""', yq("tcp\x1b")],
    "scheduler": ["bogus", "[]", '""', "1", yq("wrr\x1b[0m"), yq("rr\u202e")],
    "persistence": ["-1", "-5m", "1e999", "18446744073709551616", "[]", '"5x"', "1000000h"],
    "persistence_netmask": ["33", "-1", "255.0.255.0", '"abc"', "[]", "1e999"],
    "forward": ["nat", "[]", "1", '""', "dr"],
    "full_nat": ['"maybe"', "2", "[]", "{}"],
    "snat_ip": ["10.0.0.256", '"::1"', "[]", '""', "10.0.0.3/24", "10.0.0.3:53"],
    "weight": ["-1", "65536", "1e999", "99999999999999999999", "1.5", '"heavy"', "[]", "{}"],
    "upper_threshold": ["-1", "4294967296", '"x"', "[]"],
    "lower_threshold": ["200", "-1", '"x"'],
    "address": ["192.168.1.256:8080", "192.168.1.10:70000", "[]", '""', "192.168.1.10:8080:1",
                '"[2001:db8:1::10]:8080"', "10.0.0.1/24", yq("192.168.1.10\x00:8080")],
    "fwmark": ["-1", "4294967296", '"x"', "[]", "1.5"],
    "family": ["ipv5", "4", "[]", '""'],
    "sched_flags": ["[bogus]", "[sh-port, bogus]", "[mh-port]", "7", "{a: b}"],
    "backends": ['"x"', "5", "{a: b}", "[1]", "[~]", "[[]]"],
    "health_check": ['"x"', "5", "[]", "{enabled: maybe}", "{type: bogus}"],
    "enabled": ['"maybe"', "2", "[]"],
    "type": ["bogus", "[]", "1"],
    "name": ["[]", "{}", yq("a\x00b"), yq("a\x1b[31mb"), yq("a\nb"), yq("a\u202eb"), yq("a\x9bb"),
             yq("a\x7fb"), yq("a\rb")],
}
HEALTH_BAD = {
    "interval": ["0s", "-1s", "169h", "5", "abc", "1e999s", "5 s", "[]", "100h100h"],
    "timeout": ["0s", "-3s", "169h", "3", "[]", "9999999999999999999s"],
    "fail_count": ["0", "-1", "1e999", '"x"', "[]", "1.5"],
    "rise_count": ["0", "-1", "4294967296", '"x"'],
    "command": ["[]", '""', "{}"],
    "args": ['"--probe"', "{a: b}", "[[x]]"],
    "on_unhealthy": ["explode", "[]", '""'],
    "sorry_server": ["192.168.9.9:99999", "bogus", "[]", '"[2001:db8::1]:80"', '""'],
    "listen": ["10.0.0.1:0", "[]"],
    "type": ["bogus", "http2", "[]"],
}
IPSEC_BAD = {
    "local": ["10.0.0.256", "[]", '""', "192.168.0.1:500", "192.168.0.1/24", yq("192.168.0.1\x1b")],
    "key_file": ["missing-key", '""', "[]", "/dev/zero", ".", yq("psk\x1b[31m"), yq("psk\x00")],
    "algorithm": ["cbc(aes)", '""', "[]", "rfc4106(gcm(aes)", yq("rfc4106(gcm(aes))\n")],
    "key_bits": ["192", "0", "-128", "1e999", '"x"', "[]", "129"],
    "generation": ["-1", "4294967296", "1.5", '"x"', "[]", "1e999"],
    "rotation_delay": ["-5m", "abc", "1e999s", "[]", "5"],
    "pods": ["[10.244.1.0/33]", "[x]", '"x"', "[10.244.1.0/-1]", "[300.1.1.0/24]",
             "{a: b}", "[[10.244.1.0/28]]", "[10.244.0.0/16]"],
    "pods_file": ['""', "[]", "."],
    "peers": ['"x"', "5", "[~]", "[{address: 192.168.0.1, pods: [10.244.9.0/28]}]", "{a: b}",
              "[{pods: [10.244.9.0/28]}]"],
    "address": ["10.0.0.256", "[]", '""', "192.168.0.1", "192.168.0.2:500", yq("192.168.0.2\x1b")],
}
RAFT_BAD = {
    "id": ['""', '"a b"', '"' + "x" * 65 + '"', yq("n\x1b1"), '"n/1"', "[]", yq("n\u202e1"), yq("n\n1")],
    "raft_addr": ['"0.0.0.0:@PORT@"', '"127.0.0.1"', '"127.0.0.1:0"', '"127.0.0.1:70000"', '"[::1"',
                  '"host:x"', "[]"],
    "data_dir": ['""', "[]", "{}"],
    "nodes": ['"x"', "[]", "[~]", '[{id: n1, addr: "127.0.0.1:@PORT@"}, {id: n1, addr: "127.0.0.1:@PORT2@"}]',
              '[{id: n1, addr: "127.0.0.1:@PORT@"}, {id: n2, addr: "127.0.0.1:@PORT@"}]',
              '[{id: n2, addr: "127.0.0.1:@PORT2@"}]', "5"],
    "election_timeout": ["50ms", "61s", "-1s", "0s", "abc", "1e999s", "[]"],
    "heartbeat": ["600ms", "0s", "-1s", "abc"],
    "master_guard": ["-1s", "abc", "[]"],
    "enabled": ['"x"', "2", "[]"],
    "timeout": ["-1s", "abc", "[]"],
    "on_failure": ["ignore", '""', "[]", "Retry!"],
    "retry_attempts": ["-1", "1e999", '"x"'],
    "retry_backoff": ["-1s", "x"],
    "debounce": ["-1s", "x", "[]"],
    "command": ['""', "[]", "{}"],
    "args": ['"x"', "{a: b}"],
    "environment": ['{"1BAD": x}', '{"A=B": x}', '{A: "{{.Bogus}}"}', '"x"', "[]", '{"": x}'],
    "level": ["loud", '""', "[]"],
    "format": ["xml", "[]"],
    "output": ['""', "[]"],
}


def value_mutations(surface_text, table, rng, per_key):
    out = []
    sites = key_sites(surface_text)
    for key, bads in table.items():
        lines_for_key = [i for i, k, _ in sites if k == key]
        if not lines_for_key:
            continue
        chosen = bads if per_key is None else rng.sample(bads, min(per_key, len(bads)))
        for bad in chosen:
            li = rng.choice(lines_for_key)
            out.append(("value:" + key, "%s: %s (line %d)" % (key, bad if len(bad) < 40 else bad[:37] + "...", li + 1),
                        set_value(surface_text, li, bad)))
    return out


def unknown_key_mutations(text, spots):
    """spots: [(after_line_regex, indent, key)] -> warn-mode cases (documented: warned, or refused)."""
    out = []
    lines = yaml_lines(text)
    for regex, line in spots:
        if regex == "$":
            key = line.split(":")[0].strip()
            out.append(("unknown-key", "unknown top-level key %r at the end" % key, text + line + "\n", key))
            continue
        for i, l in enumerate(lines):
            if re.search(regex, l):
                key = line.strip().lstrip("- ")
                key = key[: key.index('":') + 1] if key.startswith('"') else key.split(":", 1)[0]
                if key.startswith('"'):     # a YAML double-quoted key: JSON's escapes, plus \e and \xNN
                    key = json.loads(re.sub(r"\\x([0-9a-fA-F]{2})", r"\\u00\1", key.replace("\\e", "\\u001b")))
                out.append(("unknown-key", "unknown key %r after line %d" % (key, i + 1),
                            insert_after(text, i, line), key))
                break
    return out


def dup_key_mutations(text, keys):
    out = []
    lines = yaml_lines(text)
    for key in keys:
        for i, l in enumerate(lines):
            m = KEYLINE.match(l)
            if m and m.group(2) == key and m.group(4):
                dup = "%s%s: %s\n" % (" " * len(m.group(1)), key, m.group(4))
                out.append(("duplicate-key", "%r twice in one mapping (line %d)" % (key, i + 1),
                            insert_after(text, i, dup)))
                break
    return out


# ---- JSON (state files, pods file) ---------------------------------------------------------------


def json_leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from json_leaves(v, path + (k,))
        yield path, obj
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from json_leaves(v, path + (i,))
        yield path, obj
    else:
        yield path, obj


def json_set(obj, path, value):
    obj = json.loads(json.dumps(obj))
    if not path:
        return value
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return obj


def wrong_types(v):
    if isinstance(v, bool):
        return ["true", [], 2]
    if isinstance(v, int):
        return ["12", 1.5, 2 ** 64, -2 ** 63 - 1, [], {}]
    if isinstance(v, float):
        return ["x", [], {}]
    if isinstance(v, str):
        return [12, [], {}, True]
    if isinstance(v, list):
        return [{}, "x", 7]
    if isinstance(v, dict):
        return [[], "x", 7]
    return []


def pstr(path):
    return "".join("[%d]" % p if isinstance(p, int) else ".%s" % p for p in path) or "(root)"


def json_truncations(text, rng, limit):
    pts = []
    in_str = False
    esc = False
    for i, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
                pts.append(i + 1)
            continue
        if ch == '"':
            in_str = True
            pts.append(i + 1)
        elif ch in "{[:,":
            pts.append(i + 1)
        elif ch.isdigit() and i + 1 < len(text) and text[i + 1].isdigit():
            pts.append(i + 1)
    good = []
    for p in sorted(set(pts)):
        try:
            json.loads(text[:p])
        except ValueError:
            good.append(p)
    head = [p for p in (1, len(text.rstrip()) - 1) if p > 0]
    sample = good if len(good) <= limit else sorted(rng.sample(good, limit))
    return sorted(set(head + sample))


def generic_json(raw, obj, kind, schema, rng, trunc_limit=14, leaf_limit=28, extra=()):
    """(family, desc, bytes) for a JSON state file in the {"schema","kind","data"} envelope
    (kind None: a plain JSON document, the pods file)."""
    text = raw.decode()
    out = []
    for p in json_truncations(text, rng, trunc_limit):
        out.append(("truncate", "truncated to %d of %d bytes" % (p, len(raw)), raw[:p]))
    out += [
        ("empty", "zero-byte file", b""),
        ("empty", "whitespace only", b" \n\t\n"),
        ("wrong-shape", "'null'", b"null"),
        ("wrong-shape", "'[]'", b"[]"),
        ("wrong-shape", "'0'", b"0"),
        ("wrong-shape", "a JSON string", b'"x"'),
        ("nul", "NUL as the first byte", b"\x00" + raw),
        ("nul", "NUL in the middle", raw[: len(raw) // 2] + b"\x00" + raw[len(raw) // 2:]),
        ("nul", "only NUL bytes", b"\x00" * len(raw)),
        ("invalid-utf8", "0xff inside the first string", raw.replace(b'"', b'"\xff', 1)),
        ("invalid-utf8", "overlong encoding inside the first string", raw.replace(b'"', b'"\xc0\xaf', 1)),
        ("syntax", "trailing garbage", raw + b"x"),
        ("syntax", "two documents", raw + raw),
        ("syntax", "a trailing comma", raw.rstrip().rstrip(b"}") + b",}"),
        ("syntax", "single-quoted strings", raw.replace(b'"', b"'")),
        ("syntax", "a JSON comment", b"// state\n" + raw),
        ("deep-nesting", "100,000 '[' at the top", b"[" * 100000),
        ("deep-nesting", "100,000 '{\"a\":' at the top", b'{"a":' * 100000),
        ("long-string", "a 10 MB string as the whole file", Big(b'"', b"x", 10 << 20, b'"')),
    ]
    if kind is not None:
        data = json.dumps(obj.get("data"))
        env = lambda s, k, d: ('{"schema":%s,"kind":%s,"data":%s}' % (s, k, d)).encode()
        other = {"ipvs": "health", "health": "ipvs"}.get(kind, "ipvs")
        out += [
            ("wrong-shape", "'{}' (no envelope)", b"{}"),
            ("envelope", "kind of another file (%s)" % other, env(schema, json.dumps(other), data)),
            ("envelope", "kind ''", env(schema, '""', data)),
            ("envelope", "kind missing", ('{"schema":%s,"data":%s}' % (schema, data)).encode()),
            ("envelope", "kind is a number", env(schema, "1", data)),
            ("envelope", "schema from the future (99)", env(99, json.dumps(kind), data)),
            ("envelope", "schema %d (newer)" % (schema + 1), env(schema + 1, json.dumps(kind), data)),
            ("envelope", "schema -1", env(-1, json.dumps(kind), data)),
            ("envelope", "schema as a string", env('"%d"' % schema, json.dumps(kind), data)),
            ("envelope", "schema 1.5", env(1.5, json.dumps(kind), data)),
            ("envelope", "schema 2^64", env(2 ** 64, json.dumps(kind), data)),
            ("envelope", "schema 1e400", env("1e400", json.dumps(kind), data)),
            ("envelope", "schema missing", ('{"kind":%s,"data":%s}' % (json.dumps(kind), data)).encode()),
            ("envelope", "data missing", ('{"schema":%s,"kind":%s}' % (schema, json.dumps(kind))).encode()),
            ("wrong-shape", "data is an array", env(schema, json.dumps(kind), "[]")),
            ("wrong-shape", "data is a string", env(schema, json.dumps(kind), '"x"')),
            ("wrong-shape", "data is a number", env(schema, json.dumps(kind), "0")),
            ("wrong-shape", "data is null", env(schema, json.dumps(kind), "null")),
            ("wrong-shape", "data is true", env(schema, json.dumps(kind), "true")),
            ("duplicate-key", "'data' twice, the second empty",
             ('{"schema":%s,"kind":%s,"data":%s,"data":{}}' % (schema, json.dumps(kind), data)).encode()),
            ("duplicate-key", "'kind' twice, the second another file's",
             ('{"schema":%s,"kind":%s,"kind":%s,"data":%s}' % (schema, json.dumps(kind), json.dumps(other), data)).encode()),
            ("duplicate-key", "'schema' twice, the second from the future",
             ('{"schema":%s,"schema":99,"kind":%s,"data":%s}' % (schema, json.dumps(kind), data)).encode()),
            ("deep-nesting", "data nested 100,000 arrays deep",
             env(schema, json.dumps(kind), "[" * 100000 + "]" * 100000)),
        ]
    # Every leaf (and container) replaced by a value of another JSON type.
    leaves = [(p, v) for p, v in json_leaves(obj) if p and (kind is None or p[0] == "data") and len(p) > (0 if kind is None else 1)]
    muts = []
    for p, v in leaves:
        for nv in wrong_types(v):
            # ipvs.json's `services` as a list is schema 1's layout (still read): `[]` owns nothing.
            if kind == "ipvs" and p == ("data", "services") and nv == []:
                continue
            muts.append((p, v, nv))
    if len(muts) > leaf_limit:
        muts = rng.sample(muts, leaf_limit)
    for p, v, nv in muts:
        out.append(("wrong-type", "%s: %s -> %s" % (pstr(p), type(v).__name__, json.dumps(nv)[:20]),
                    json.dumps(json_set(obj, p, nv), indent=1).encode()))
    out += list(extra)
    return out


# --------------------------------------------------------------------------------------------
# Corpus


def corpus(seed):
    cases = []
    R = lambda name: random.Random("%d:%s" % (seed, name))
    rng = R("ipvs-config")

    def add(c):
        cases.append(c)

    # ---- ipvs config: apply and plan --------------------------------------------------------
    S = "ipvs-config"
    cfg = "conf/fuzz.yaml"
    apply = ["@BIN@", "ipvs", "apply", "-c", "@CONF@/fuzz.yaml", "--backend", "fake", "--state-dir", "@STATE@"]
    plan = ["@BIN@", "ipvs", "plan", "-c", "@CONF@/fuzz.yaml", "--backend", "fake", "--state-dir", "@STATE@"]
    ipam_cmd = ["@BIN@", "ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "demo", "-c", "@CONF@/fuzz.yaml",
                "--backend", "fake", "--state-dir", "@STATE@"]
    muts = generic_yaml(BASE_YAML, "services")
    ipam_at = BASE_YAML.index("\nipam:") + 1
    ipam_truncs = []
    for t, why in yaml_truncations(BASE_YAML, {"name", "listen", "address", "family", "fwmark", "services"},
                                   {"scheduler", "protocol", "forward", "family"}, rng, 40):
        if len(t) > ipam_at:      # the ipam section is read by ipam/bridge only: run those with ipam allocate
            ipam_truncs.append(("truncate", "truncated %s (%d bytes) [ipam allocate]" % (why, len(t)), t.encode()))
        else:
            muts.append(("truncate", "truncated %s (%d bytes)" % (why, len(t)), t.encode()))
    muts += [(f, d, t.encode()) for f, d, t in value_mutations(BASE_YAML, COMMON_BAD, rng, None)]
    muts += [(f, d, t.encode()) for f, d, t in dup_key_mutations(BASE_YAML, ["name", "listen", "address", "weight", "scheduler", "health_check"])]
    muts += [
        ("semantic", "duplicate service name", BASE_YAML.replace("name: dns", "name: web").encode()),
        ("semantic", "duplicate listen", BASE_YAML.replace("listen: 10.0.0.3:53\n    protocol: udp", "listen: 10.0.0.1:80\n    protocol: tcp").encode()),
        ("semantic", "duplicate backend", BASE_YAML.replace("192.168.4.11:53", "192.168.4.10:53").encode()),
        ("semantic", "IPv6 backend in an IPv4 service", BASE_YAML.replace("192.168.4.11:53", '"[2001:db8::53]:53"').encode()),
        ("semantic", "lower_threshold above upper_threshold", BASE_YAML.replace("lower_threshold: 10", "lower_threshold: 101").encode()),
        ("semantic", "fwmark without family", BASE_YAML.replace("    family: ipv4\n", "").encode()),
        ("semantic", "both listen and fwmark", BASE_YAML.replace("    fwmark: 7\n", "    fwmark: 7\n    listen: 10.0.0.9:80\n").encode()),
        ("semantic", "neither listen nor fwmark", BASE_YAML.replace("    fwmark: 7\n    family: ipv4\n", "").encode()),
        ("semantic", "route backend on another port", BASE_YAML.replace("    forward: masq\n", "    forward: route\n").encode()),
        ("semantic", "snat_ip without full_nat", BASE_YAML.replace("    full_nat: true\n", "").encode()),
        ("semantic", "sh flags on an mh service", BASE_YAML.replace("scheduler: mh", "scheduler: mh\n    sched_flags: [sh-port]").encode()),
        ("semantic", "persistence_netmask on IPv6 > 128", BASE_YAML.replace("sched_flags: [sh-port, sh-fallback]", "sched_flags: [sh-port]\n    persistence: 60\n    persistence_netmask: 129").encode()),
        ("semantic", "duplicate 2001:DB8::10 (canonical compare)", BASE_YAML.replace("10.0.0.3:53\n    protocol: udp", '"[2001:DB8::10]:443"\n    protocol: tcp').replace("192.168.4.10:53", '"[2001:db8:1::20]:443"').replace("192.168.4.11:53", '"[2001:db8:1::21]:443"').replace("    snat_ip: 10.0.0.3\n", "").encode()),
    ]
    for f, d, data in muts:
        hang = f.startswith(("deep-nesting", "alias-bomb", "long-string"))
        add(Case(S, f, d, apply, ops=[w(cfg, data)], names="fuzz.yaml"))
        if not hang:
            add(Case(S, f, d + " [plan]", plan, ops=[w(cfg, data)], names="fuzz.yaml"))
    for f, d, t, key in unknown_key_mutations(BASE_YAML, [
            (r"name: web$", "    schedulr: rr"),
            (r"health_check: \{enabled: false\}", "    health_check_typo: {enabled: false}"),
            (r"type: tcp", "      intervl: 5s"),
            (r"enabled: false$", "      rise_cont: 2"),
            (r"weight: 5", "        wieght: 5"),
            (r"^ipam:", "  reservd: [10.1.0.9]"),
            ("$", "servics: []"),
            (r"name: dns", "    " + yq("bad\x1b[31mkey") + ": 1"),
            (r"name: marked", "    " + yq("rtl\u202ekey") + ": 1"),
    ]):
        # the ipam section is read (and checked) by ipam/bridge only
        cmd, tag = (ipam_cmd, "ipam allocate") if key == "reservd" else (plan, "plan")
        add(Case(S, f, d + " [%s]" % tag, cmd, ops=[w(cfg, t)], mode="warn", expect=(0, EX_CONFIG), names="fuzz.yaml", token=key))
    # the health-check block on a seed whose checks run (exec probes)
    hplan = ["@BIN@", "ipvs", "plan", "--no-probe", "-c", "@CONF@/fuzz.yaml", "--backend", "fake", "--state-dir", "@STATE@"]
    happly = ["@BIN@", "ipvs", "apply", "-c", "@CONF@/fuzz.yaml", "--backend", "fake", "--state-dir", "@STATE@"]
    for f, d, t in value_mutations(HEALTH_YAML, HEALTH_BAD, rng, None):
        add(Case(S, f, d + " [health]", happly, seed="health", ops=[w(cfg, t)], names="fuzz.yaml"))
    for f, d, t, key in unknown_key_mutations(HEALTH_YAML, [
            (r"interval: 1s", "      intervl: 5s"),
            (r"fail_count: 1$", "      failcount: 2"),
            (r"sorry_server", "    sorry_servr: 192.168.9.9:8080"),
            (r'command: "false"', "      http_pat: /x"),
    ]):
        add(Case(S, f, d + " [health, plan]", hplan, seed="health", ops=[w(cfg, t)], mode="warn", expect=(0, EX_CONFIG),
                 names="fuzz.yaml", token=key))
    for fam, desc, ops in special_cases(cfg):
        add(Case(S, fam, desc, apply, ops=ops, names="fuzz.yaml"))
    paths = [
        ("path", "nonexistent config", "@CONF@/missing.yaml", [], "missing.yaml"),
        ("path", "nonexistent path with ESC and newline", "@CONF@/a\x1b[31m\nb.yaml", [], "b.yaml"),
        ("path", "nonexistent path with U+202E", "@CONF@/a\u202eb.yaml", [], "b.yaml"),
        ("path", "dangling symlink", "@CONF@/fuzz.yaml", [("symlink", cfg, "/nonexistent/x.yaml")], "fuzz.yaml"),
        ("path", "symlink loop", "@CONF@/fuzz.yaml", [("symlink", cfg, "fuzz.yaml")], "fuzz.yaml"),
        ("path", "a 5000-byte path", "@CONF@/" + "d" * 5000 + ".yaml", [], None),
        ("path", "-c /dev/zero", "/dev/zero", [], "zero"),
        ("path", "-c /dev/null (empty)", "/dev/null", [], "null"),
        ("path", "-c a path through a regular file", "@CONF@/base.yaml/x.yaml", [], "x.yaml"),
    ]
    for fam, desc, path, ops, name in paths:
        argv = ["@BIN@", "ipvs", "apply", "-c", path, "--backend", "fake", "--state-dir", "@STATE@"]
        add(Case(S, fam, desc, argv, ops=ops, names=name))
    add(Case(S, "path", "-c '' (empty path)", ["@BIN@", "ipvs", "apply", "-c", "", "--backend", "fake", "--state-dir", "@STATE@"],
             expect=(EX_USAGE, EX_CONFIG)))
    # ipam.reserved is read by ipam/bridge only
    for bad in ["[10.1.0.300]", "[10.1.0.254-10.1.0.200]", '"x"', "[10.1.0.0/33]", "[10.1.0.1-2001:db8::1]", "[[]]",
                "{a: b}", yq("10.1.0.9\x1b")]:
        t = BASE_YAML.replace("reserved: [10.1.0.10, 10.1.0.200-10.1.0.254]", "reserved: " + bad)
        add(Case(S, "value:ipam.reserved", "ipam.reserved: %s [ipam allocate]" % bad, ipam_cmd, ops=[w(cfg, t)], names="fuzz.yaml"))
    for f, d, data in ipam_truncs:
        add(Case(S, f, d, ipam_cmd, ops=[w(cfg, data)], names="fuzz.yaml"))

    # ---- snat config ------------------------------------------------------------------------
    S = "snat-config"
    rng = R(S)
    sync = ["@BIN@", "snat", "sync", "-c", "@CONF@/fuzz.yaml", "--backend", "fake", "--state-dir", "@STATE@"]
    smuts = generic_yaml(BASE_YAML, "services")
    smuts += [("truncate", "truncated %s (%d bytes)" % (why, len(t)), t.encode())
              for t, why in yaml_truncations(BASE_YAML, {"name", "listen", "address", "family", "fwmark", "services"},
                                             {"scheduler", "protocol", "forward", "family"}, rng, 20)
              if len(t) <= ipam_at]
    snat_table = {k: COMMON_BAD[k] for k in ("listen", "protocol", "full_nat", "snat_ip", "address", "name",
                                             "weight", "scheduler", "backends", "fwmark")}
    smuts += [(f, d, t.encode()) for f, d, t in value_mutations(BASE_YAML, snat_table, rng, 4)]
    smuts += [("semantic", "name longer than an iptables comment (300 chars)",
               BASE_YAML.replace("name: dns", "name: " + "d" * 300).encode())]
    for f, d, data in smuts:
        add(Case(S, f, d, sync, ops=[w(cfg, data)], names="fuzz.yaml"))
    for fam, desc, ops in special_cases(cfg):
        add(Case(S, fam, desc, sync, ops=ops, names="fuzz.yaml"))
    sdry = sync + ["--dry-run"]
    for f, d, t, key in unknown_key_mutations(BASE_YAML, [(r"full_nat: true", "    ful_nat: true"),
                                                         (r"snat_ip", "    snat_ipp: 10.0.0.4")]):
        add(Case(S, f, d + " [dry-run]", sdry, ops=[w(cfg, t)], mode="warn", expect=(0, EX_CONFIG), names="fuzz.yaml", token=key))

    # ---- xfrm: ipsec config, pods file, key file --------------------------------------------
    xs = ["@BIN@", "xfrm", "sync", "-c", "@CONF@/ipsec.yaml", "--backend", "fake", "--state-dir", "@STATE@"]
    S = "xfrm-config"
    rng = R(S)
    xcfg = "conf/ipsec.yaml"
    xmuts = generic_yaml(IPSEC_YAML, "ipsec")
    xmuts += [("truncate", "truncated %s (%d bytes)" % (why, len(t)), t.encode())
              for t, why in yaml_truncations(IPSEC_YAML, {"local", "key_file", "address", "ipsec"}, {"algorithm"}, rng, 20)]
    xmuts += [(f, d, t.encode()) for f, d, t in value_mutations(IPSEC_YAML, IPSEC_BAD, rng, None)]
    xmuts += [(f, d, t.encode()) for f, d, t in dup_key_mutations(IPSEC_YAML, ["local", "key_file", "address", "pods"])]
    xmuts += [("semantic", "a peer listed twice", IPSEC_YAML.replace("192.168.0.3", "192.168.0.2").encode()),
              ("semantic", "local pods overlap a peer's", IPSEC_YAML.replace("10.244.3.0/28", "10.244.1.8/29").encode()),
              ("semantic", "IPv6 peer of an IPv4 node", IPSEC_YAML.replace("address: 192.168.0.3", 'address: "2001:db8::3"').encode())]
    for f, d, data in xmuts:
        # an error about the referenced file may name that file instead of the config
        names = ("ipsec.yaml", "conf/") if f in ("value:pods_file", "value:key_file") else "ipsec.yaml"
        add(Case(S, f, d, xs, ops=[w(xcfg, data)], names=names))
    for fam, desc, ops in special_cases(xcfg):
        add(Case(S, fam, desc, xs, ops=ops, names="ipsec.yaml"))
    for f, d, t, key in unknown_key_mutations(IPSEC_YAML, [(r"key_bits", "  key_bit: 256"),
                                                          (r"- address: 192.168.0.2", "      pod: [10.244.9.0/28]"),
                                                          (r"rotation_delay", "  rotation_dealy: 1m")]):
        add(Case(S, f, d + " [dry-run]", xs + ["--dry-run"], ops=[w(xcfg, t)], mode="warn", expect=(0, EX_CONFIG),
                 names="ipsec.yaml", token=key))

    S = "xfrm-pods"
    rng = R(S)
    pods_raw = json.dumps(PODS_JSON, indent=2).encode()
    pmuts = generic_json(pods_raw, PODS_JSON, None, None, rng, trunc_limit=16, leaf_limit=24)
    pmuts += [
        ("value", "local entry not a CIDR", json.dumps({"local": ["x"], "peers": {}}).encode()),
        ("value", "prefix /33", json.dumps({"local": ["10.244.1.16/33"], "peers": {}}).encode()),
        ("value", "peer key not an address", json.dumps({"local": [], "peers": {"x": ["10.244.2.16/28"]}}).encode()),
        ("value", "peer key with ESC", json.dumps({"local": [], "peers": {"192.168.0.2\x1b[31m": ["10.244.2.16/28"]}}).encode()),
        ("value", "entry with U+202E", json.dumps({"local": ["10.244.1.16/28\u202e"], "peers": {}}).encode()),
        ("value", "entry with NUL", json.dumps({"local": ["10.244.1.16\x00/28"], "peers": {}}).encode()),
        ("value", "local overlaps a peer's pods", json.dumps({"local": ["10.244.2.0/24"], "peers": {}}).encode()),
        ("value", "peer pods overlap local pods", json.dumps({"local": [], "peers": {"192.168.0.2": ["10.244.1.0/24"]}}).encode()),
        ("value", "a 100,000-character entry", json.dumps({"local": ["1" * 100000], "peers": {}}).encode()),
        ("unknown-key", "unknown top-level key 'peer'", json.dumps({"local": [], "peer": {}}).encode()),
        ("duplicate-key", "'local' twice", b'{"local":["10.244.1.16/28"],"local":[],"peers":{}}'),
    ]
    for f, d, data in pmuts:
        add(Case(S, f, d, xs, ops=[w("conf/pods.json", data)], names="pods.json"))
    for fam, desc, ops in special_cases("conf/pods.json"):
        add(Case(S, fam, desc, xs, ops=ops, names="pods.json"))

    S = "xfrm-key"
    rng = R(S)
    kmuts = [
        ("empty", "zero-byte key", b"", 0o600),
        ("empty", "newline only", b"\n", 0o600),
        ("empty", "whitespace only", b"   \t \n", 0o600),
        ("mode", "mode 0644", PSK.encode(), 0o644),
        ("mode", "mode 0640", PSK.encode(), 0o640),
        ("mode", "mode 0604", PSK.encode(), 0o604),
        ("mode", "mode 0666", PSK.encode(), 0o666),
        ("mode", "mode 0610", PSK.encode(), 0o610),
        ("value", "15 bytes of hex (too short)", b"00" * 15 + b"\n", 0o600),
        ("value", "40 chars of hex and ':' (neither hex nor base64)", b"0:" * 20 + b"\n", 0o600),
        ("value", "characters outside hex and base64", b"!*~" * 12 + b"\n", 0o600),
        ("value", "hex with ESC in the middle", PSK[:10].encode() + b"\x1b[31m" + PSK[10:].encode(), 0o600),
        ("value", "hex with U+202E", PSK[:10].encode() + "\u202e".encode() + PSK[10:].encode(), 0o600),
        ("nul", "hex with a NUL", PSK[:10].encode() + b"\x00" + PSK[10:].encode(), 0o600),
        ("nul", "only NUL bytes", b"\x00" * 64, 0o600),
        ("invalid-utf8", "0xff bytes", b"\xff" * 40, 0o600),
        ("long-string", "a 10 MB key file", Big(b"", b"a", 10 << 20), 0o600),
        ("value", "two keys on two lines", PSK.encode() + PSK.encode(), 0o600),
        ("value", "base64 of 12 bytes", b"AAAAAAAAAAAAAAAA\n", 0o600),
    ]
    for n in range(1, 16):
        kmuts.append(("value", "hex of %d bytes (too short)" % n, (("%02x" % n) * n).encode() + b"\n", 0o600))
    for n in range(1, 21, 2):
        kmuts.append(("value", "%d base64 chars (under 16 bytes)" % n, b"Q" * n + b"\n", 0o600))
    for i in range(6):
        blob = bytes(rng.randrange(128, 256) for _ in range(rng.randrange(16, 64)))
        kmuts.append(("value", "%d random high bytes" % len(blob), blob, 0o600))
    for f, d, data, mode in kmuts:
        add(Case(S, f, d, xs, ops=[w("conf/psk", data, mode)], names="psk"))
    for fam, desc, ops in special_cases("conf/psk"):
        add(Case(S, fam, desc, xs, ops=ops, names="psk"))

    # ---- raft config (serve must refuse at config validation) -------------------------------
    S = "raft-config"
    rng = R(S)
    rcfg = "conf/raft.yaml"
    serve = ["@BIN@", "raft", "serve", "-c", "@CONF@/raft.yaml"]
    status = ["@BIN@", "raft", "status", "-c", "@CONF@/raft.yaml"]
    rmuts = generic_yaml(RAFT_YAML, "node")
    rmuts += [("truncate", "truncated %s (%d bytes)" % (why, len(t)), t.encode())
              for t, why in yaml_truncations(RAFT_YAML, {"id", "raft_addr", "data_dir", "node", "addr", "command"},
                                             {"on_failure", "level", "format"}, rng, 20)]
    rmuts += [(f, d, t.encode()) for f, d, t in value_mutations(RAFT_YAML, RAFT_BAD, rng, 4)]
    rmuts += [(f, d, t.encode()) for f, d, t in dup_key_mutations(RAFT_YAML, ["id", "raft_addr", "command", "level"])]
    rmuts += [
        ("secret", "secret shorter than 16 bytes", RAFT_YAML.replace("  master_guard: 1500ms\n", "  master_guard: 1500ms\n  secret: short\n").encode()),
        ("secret", "secret and secret_file", RAFT_YAML.replace("  master_guard: 1500ms\n", "  master_guard: 1500ms\n  secret: 0123456789abcdef0123\n  secret_file: @CASE@/conf/psk\n").encode()),
        ("secret", "secret_file missing", RAFT_YAML.replace("  master_guard: 1500ms\n", "  master_guard: 1500ms\n  secret_file: @CASE@/conf/nope\n").encode()),
        ("secret", "secret_file is a directory", RAFT_YAML.replace("  master_guard: 1500ms\n", "  master_guard: 1500ms\n  secret_file: @CASE@/conf\n").encode()),
        ("semantic", "this node's raft_addr differs from its cluster entry", RAFT_YAML.replace('raft_addr: "127.0.0.1:@PORT@"', 'raft_addr: "127.0.0.2:@PORT@"').encode()),
        ("semantic", "[::1] vs [0:0::1] duplicate addresses", RAFT_YAML.replace('"127.0.0.1:@PORT@"', '"[::1]:@PORT@"', 2).replace('addr: "127.0.0.1:@PORT2@"', 'addr: "[0:0::1]:@PORT@"').encode()),
        ("semantic", "heartbeat above election_timeout/2", RAFT_YAML.replace("heartbeat: 100ms", "heartbeat: 900ms").encode()),
    ]
    for f, d, data in rmuts:
        add(Case(S, f, d, serve, seed="raft", ops=[w(rcfg, data)], names="raft.yaml", mode="noserve"))
    for fam, desc, ops in special_cases(rcfg):
        add(Case(S, fam, desc, serve, seed="raft", ops=ops, names="raft.yaml", mode="noserve"))
    for f, d, t, key in unknown_key_mutations(RAFT_YAML, [(r"^hooks:", "  ToMastr: {command: true}"),
                                                         (r"election_timeout", "  election_timout: 2s"),
                                                         (r"level: info", "  levle: debug")]):
        add(Case(S, f, d + " [raft serve]", serve, seed="raft", ops=[w(rcfg, t)], mode="warn-serve", expect=(EX_CONFIG,),
                 names="raft.yaml", token=key, timeout=1.5))

    # ---- state files ------------------------------------------------------------------------
    cases += state_file_cases(R)

    # ---- CLI flags and environment ----------------------------------------------------------
    cases += cli_cases(R("cli"))

    counters = {}
    for c in cases:
        n = counters.get(c.surface, 0)
        counters[c.surface] = n + 1
        c.id = "%s/%03d" % (c.surface, n)
    return cases


STATE_COMMANDS = {
    # file: [(seed, argv)] -- every command reads the file (checked against a torn copy at start)
    "ipvs.json": [("main", ["ipvs", "apply", "-c", "@SCONF@/base.yaml"]), ("main", ["ipvs", "cleanup"]),
                  ("main", ["ipvs", "show"])],
    "health.json": [("health", ["ipvs", "health", "-c", "@SCONF@/health.yaml"]),
                    ("health", ["ipvs", "apply", "--no-probe", "-c", "@SCONF@/health.yaml"]),
                    ("health", ["snat", "sync", "-c", "@SCONF@/health.yaml"])],
    "snat.json": [("main", ["snat", "sync", "-c", "@SCONF@/base.yaml"]), ("main", ["snat", "cleanup"]),
                  ("main", ["snat", "show"])],
    "xfrm.json": [("main", ["xfrm", "sync", "-c", "@SCONF@/ipsec.yaml"]), ("main", ["xfrm", "cleanup"]),
                  ("main", ["xfrm", "show"])],
    "bridges.json": [("main", ["bridge", "list", "-c", "@SCONF@/base.yaml"]),
                     ("main", ["bridge", "create", "ezbr0", "--subnet", "10.88.0.0/24", "-c", "@SCONF@/base.yaml"]),
                     ("main", ["bridge", "connect", "ezbr0", "--netns", "c1", "--owner", "c1", "-c", "@SCONF@/base.yaml"]),
                     ("main", ["bridge", "delete", "ezbr0", "--force", "-c", "@SCONF@/base.yaml"])],
    "ipam.json": [("main", ["ipam", "list", "-c", "@SCONF@/base.yaml"]),
                  ("main", ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "demo", "-c", "@SCONF@/base.yaml"]),
                  ("main", ["ipam", "release", "--subnet", "10.1.0.0/24", "--owner", "demo", "-c", "@SCONF@/base.yaml"])],
    "fake-kernel.json": [("main", ["ipvs", "apply", "-c", "@SCONF@/base.yaml"]), ("main", ["ipvs", "show"]),
                         ("main", ["snat", "sync", "-c", "@SCONF@/base.yaml"]), ("main", ["xfrm", "sync", "-c", "@SCONF@/ipsec.yaml"]),
                         ("main", ["ipvs", "cleanup"]), ("main", ["bridge", "connect", "ezbr0", "--netns", "c1", "--owner", "c1",
                                                                   "-c", "@SCONF@/base.yaml"])],
}
FAKE_SECTION_COMMANDS = {
    "ipvs": [["ipvs", "apply", "-c", "@SCONF@/base.yaml"], ["ipvs", "show"], ["ipvs", "cleanup"]],
    "iptables": [["snat", "sync", "-c", "@SCONF@/base.yaml"], ["snat", "show"]],
    "xfrm": [["xfrm", "sync", "-c", "@SCONF@/ipsec.yaml"], ["xfrm", "show"]],
    "net": [["bridge", "connect", "ezbr0", "--netns", "c1", "--owner", "c9", "--ifname", "eth9", "-c", "@SCONF@/base.yaml"],
            ["bridge", "create", "ezbr0", "--subnet", "10.88.0.0/24", "-c", "@SCONF@/base.yaml"]],
}
CONVERGED = {
    "ipvs.converged": ["ipvs", "apply", "-c", "@SCONF@/base.yaml"],
    "snat.converged": ["snat", "sync", "-c", "@SCONF@/base.yaml"],
    "xfrm.converged": ["xfrm", "sync", "-c", "@SCONF@/ipsec.yaml"],
}
# commands that change the seed when it is valid (cleanup, release, delete, a new connection):
MUTATING = {("ipvs", "cleanup"), ("snat", "cleanup"), ("xfrm", "cleanup"), ("ipam", "release"),
            ("bridge", "delete")}

SEED_FILES = {}   # filled by build_seeds: (seed, file) -> bytes


def full_argv(argv):
    return ["@BIN@"] + argv + ["--backend", "fake", "--state-dir", "@STATE@"]


def state_file_cases(R):
    cases = []
    for fname, cmds in STATE_COMMANDS.items():
        rng = R("state:" + fname)
        seed = cmds[0][0]
        raw = SEED_FILES[(seed, fname)]
        obj = json.loads(raw)
        kind, schema = obj["kind"], obj["schema"]
        extra = []
        if fname == "ipvs.json":
            svc = obj["data"]["services"]
            first = sorted(svc)[0]
            for bad, why in [("tcp 10.0.0.999:80", "an invalid service key"), ("bogus", "a service key of one word"),
                             ("", "an empty service key"), ("tcp 10.0.0.1:80\x1b[31m", "a service key with ESC"),
                             ("tcp 10.0.0.1:99999", "a port out of range in a key"), ("icmp 10.0.0.1:80", "an unknown protocol in a key")]:
                d = dict(svc)
                d[bad] = d.pop(first)
                extra.append(("value", why, json.dumps({"schema": schema, "kind": kind, "data": {"services": d}}).encode()))
        if fname == "ipam.json":
            o = json.loads(raw)
            a = o["data"]["subnets"][0]["allocations"][0]
            for field, bad, why in [("ip", "10.1.0.256", "an invalid address"), ("ip", "10.9.0.2", "an address outside its subnet"),
                                    ("allocated_at", "yesterday", "an unparseable time"), ("ip", "10.1.0.2\x1b[2J", "an address with ESC")]:
                o2 = json.loads(raw)
                o2["data"]["subnets"][0]["allocations"][0][field] = bad
                extra.append(("value", why, json.dumps(o2).encode()))
            o2 = json.loads(raw)
            o2["data"]["subnets"][0]["subnet"] = "10.1.0.0/33"
            extra.append(("value", "subnet /33", json.dumps(o2).encode()))
            o2 = json.loads(raw)
            o2["data"]["subnets"][0]["allocations"].append(dict(a))
            extra.append(("value", "one address allocated twice", json.dumps(o2).encode()))
        if fname == "bridges.json":
            for field, bad, why in [("subnet", "10.88.0.0/33", "subnet /33"), ("mtu", 0, "mtu 0"), ("mtu", 70000, "mtu 70000"),
                                    ("name", "x" * 16, "a 16-character bridge name"), ("name", "br\x1b[31m0", "a bridge name with ESC"),
                                    ("mac", "zz:zz", "an invalid MAC"), ("gateway", "10.88.0.300", "an invalid gateway")]:
                o2 = json.loads(raw)
                o2["data"]["bridges"][0][field] = bad
                extra.append(("value", why, json.dumps(o2).encode()))
        if fname == "fake-kernel.json":
            for path, bad, why in [(("data", "ipvs"), "x", "data.ipvs is a string"), (("data", "ipvs"), {}, "data.ipvs is an object"),
                                   (("data", "net"), [], "data.net is an array"), (("data", "iptables"), "x", "data.iptables is a string"),
                                   (("data", "xfrm"), 5, "data.xfrm is a number"), (("data", "net", "links"), {}, "data.net.links is an object")]:
                if path[1] in obj["data"]:
                    extra.append(("wrong-shape", why, json.dumps(json_set(obj, path, bad)).encode()))
        if fname == "xfrm.json":
            for field, bad, why in [("priority", -1, "priority -1"), ("reqid_last", 2 ** 32, "reqid_last 2^32"),
                                    ("reqid_first", 237109248, "reqid_first above reqid_last"), ("local", "192.168.0.300", "an invalid local")]:
                o2 = json.loads(raw)
                o2["data"][field] = bad
                extra.append(("value", why, json.dumps(o2).encode()))
        if fname == "health.json":
            o2 = json.loads(raw)
            o2["data"]["backends"][0]["backend"] = "192.168.1.10:99999"
            extra.append(("value", "a backend with port 99999", json.dumps(o2).encode()))
            o2 = json.loads(raw)
            o2["data"]["backends"][0]["failures"] = -3
            extra.append(("value", "failures -3", json.dumps(o2).encode()))
        muts = generic_json(raw, obj, kind, schema, rng, extra=extra)
        for i, (f, d, data) in enumerate(muts):
            s, argv = cmds[i % len(cmds)]
            if fname == "fake-kernel.json":
                # a mutation inside one section of the fake kernel runs with a command that reads that section
                m = re.match(r"\.?data\.(\w+)", d)
                if m and m.group(1) in FAKE_SECTION_COMMANDS:
                    sec = FAKE_SECTION_COMMANDS[m.group(1)]
                    s, argv = "main", sec[i % len(sec)]
            cases.append(Case("state:" + fname, f, "%s [%s]" % (d, " ".join(argv[:2])), full_argv(argv), seed=s,
                              ops=[w("state/" + fname, data)], names=fname))
        for j, (fam, desc, ops) in enumerate(special_cases("state/" + fname)):
            s, argv = cmds[j % len(cmds)]
            cases.append(Case("state:" + fname, fam, "%s [%s]" % (desc, " ".join(argv[:2])), full_argv(argv), seed=s,
                              ops=ops, names=fname))
    # convergence caches: a torn or alien cache is a miss (exit 0, full path, no change)
    for fname, argv in CONVERGED.items():
        rng = R("state:" + fname)
        raw = SEED_FILES[("main", fname)]
        cuts = sorted(set([0, 1, 2, 4, 8, 12, 16, 24, 32, 48, len(raw) // 2, len(raw) - 8, len(raw) - 2, len(raw) - 1]))
        muts = [("truncate", "truncated to %d bytes" % n, raw[:n]) for n in cuts if 0 <= n < len(raw)]
        muts += [
            ("garbage", "only NUL bytes", b"\x00" * len(raw)),
            ("garbage", "one byte flipped in the digest", raw[:-1] + bytes([raw[-1] ^ 1])),
            ("garbage", "one byte flipped in the header", bytes([raw[0] ^ 0xff]) + raw[1:]),
            ("garbage", "JSON instead", b'{"schema":1}'),
            ("garbage", "1 MB of 0xff", b"\xff" * (1 << 20)),
            ("garbage", "the other cache's bytes", SEED_FILES[("main", "snat.converged" if fname != "snat.converged" else "xfrm.converged")]),
            ("garbage", "a length field of 2^32-1", raw[:8] + b"\xff\xff\xff\xff" + raw[12:]),
        ]
        for i in range(26):
            pos = rng.randrange(len(raw))
            x = rng.randrange(1, 256)
            muts.append(("garbage", "byte %d xor 0x%02x" % (pos, x), raw[:pos] + bytes([raw[pos] ^ x]) + raw[pos + 1:]))
        for f, d, data in muts:
            cases.append(Case("state:" + fname, f, d, full_argv(argv), ops=[w("state/" + fname, data)], mode="miss",
                              expect=(0,), target="state/" + fname))
        for fam, desc, ops in special_cases("state/" + fname):
            cases.append(Case("state:" + fname, fam, desc, full_argv(argv), ops=ops, mode="miss", expect=(0,),
                              target="state/" + fname))
    return cases


# ---- CLI -------------------------------------------------------------------------------------

CLI_BASE = {
    "ipvs apply": ["-c", "@SCONF@/base.yaml"],
    "ipvs plan": ["-c", "@SCONF@/base.yaml"],
    "ipvs show": [],
    "ipvs health": ["-c", "@SCONF@/base.yaml"],
    "ipvs cleanup": [],
    "snat sync": ["-c", "@SCONF@/base.yaml"],
    "snat show": [],
    "snat cleanup": [],
    "ipam allocate": ["--subnet", "10.1.0.0/24", "--owner", "demo", "-c", "@SCONF@/base.yaml"],
    "ipam release": ["--subnet", "10.1.0.0/24", "--owner", "nobody-here", "-c", "@SCONF@/base.yaml"],
    "ipam list": ["-c", "@SCONF@/base.yaml"],
    "bridge create": ["ezbr0", "--subnet", "10.88.0.0/24", "-c", "@SCONF@/base.yaml"],
    "bridge connect": ["ezbr0", "--netns", "c1", "--owner", "c9", "--ifname", "eth9", "-c", "@SCONF@/base.yaml"],
    "bridge disconnect": ["ezbr0", "--owner", "nobody-here", "-c", "@SCONF@/base.yaml"],
    "bridge delete": ["ezbr9", "-c", "@SCONF@/base.yaml"],
    "bridge list": ["-c", "@SCONF@/base.yaml"],
    "xfrm sync": ["-c", "@SCONF@/ipsec.yaml"],
    "xfrm show": [],
    "xfrm cleanup": [],
}
RAFT_CMDS = {
    "raft serve": ["-c", "@CONF@/raft.yaml"],
    "raft status": ["-c", "@CONF@/raft.yaml"],
    "raft join": ["-c", "@CONF@/raft.yaml", "--peer", "127.0.0.1:9", "--timeout", "1"],
    "raft leave": ["-c", "@CONF@/raft.yaml", "--timeout", "1"],
}

# (family, tokens, kind): kind "parse" = rejected by the argument parser (64); "value" = a bad value
# the command itself must refuse as a usage error (64)
GLOBAL_BAD = [
    ("unknown-flag", ["--bogus"]), ("unknown-flag", ["--dry-runn"]), ("unknown-flag", ["-x"]),
    ("unknown-flag", ["--=x"]), ("unknown-flag", ["--\x1b[31mred"]), ("unknown-flag", ["--a\u202eb"]),
    ("unknown-flag", ["--\xff"]),
    ("bad-value:output", ["-o", "xml"]), ("bad-value:output", ["-o", ""]), ("bad-value:output", ["--output", "json\x1b"]),
    ("bad-value:output", ["--output", "json\n"]),
    ("bad-value:backend", ["--backend", "kernel2"]), ("bad-value:backend", ["--backend", ""]),
    ("bad-value:backend", ["--backend", "fa\x1bke"]), ("bad-value:backend", ["--backend", "fake\n"]),
    ("missing-value", ["--state-dir"]), ("missing-value", ["-c"]), ("missing-value", ["--output"]),
    ("extra-argument", ["extra"]), ("extra-argument", ["ex\x1b[31mtra"]), ("extra-argument", ["a\nb"]),
    ("extra-argument", ["\u202eevil"]),
]
PER_CMD_BAD = {
    "ipvs show": [("bad-value:format", ["--format", "bogus"]), ("bad-value:format", ["--format", "ipvs\x1badm"])],
    "ipam allocate": [
        ("bad-value:subnet", ["--subnet", "10.1.0.0/33"]), ("bad-value:subnet", ["--subnet", "10.1.0.1/24"]),
        ("bad-value:subnet", ["--subnet", "abc"]), ("bad-value:subnet", ["--subnet", "10.1.0.0/24\n"]),
        ("bad-value:subnet", ["--subnet", ""]), ("bad-value:subnet", ["--subnet", "::/129"]),
        ("bad-value:subnet", ["--subnet", "10.1.0.0/24\x1b[31m"]),
        ("bad-value:ip", ["--ip", "10.1.0.0"]), ("bad-value:ip", ["--ip", "10.2.0.5"]), ("bad-value:ip", ["--ip", "abc"]),
        ("bad-value:ip", ["--ip", "10.1.0.1"]), ("bad-value:ip", ["--ip", "10.1.0.255"]), ("bad-value:ip", ["--ip", "10.1.0.5\x1b"]),
        ("bad-value:range", ["--range-start", "10.1.0.50", "--range-end", "10.1.0.40"]),
        ("bad-value:range", ["--range-start", "10.2.0.1"]), ("bad-value:range", ["--range-end", "x"]),
        ("bad-value:reserve", ["--reserve", "bogus"]), ("bad-value:reserve", ["--reserve", "10.1.0.9-10.1.0.1"]),
        ("bad-value:reserve", ["--reserve", "10.1.0.0/33"]), ("bad-value:owner", ["--owner", ""]),
    ],
    "ipam release": [("bad-value:subnet", ["--subnet", "bogus"]), ("bad-value:ip", ["--ip", "x"]),
                     ("bad-value:ip", ["--ip", "10.9.0.1"]), ("bad-value:subnet", ["--subnet", "10.1.0.0/-1"])],
    "ipam list": [("bad-value:subnet", ["--subnet", "10.1.0.0/99"]), ("bad-value:subnet", ["--subnet", "a\x1bb"])],
    "bridge create": [
        ("bad-value:name", ["@POS@", "x" * 16]), ("bad-value:name", ["@POS@", ""]), ("bad-value:name", ["@POS@", "a/b"]),
        ("bad-value:name", ["@POS@", "br\x1b0"]), ("bad-value:name", ["@POS@", "br\n0"]), ("bad-value:name", ["@POS@", "br\u202e0"]),
        ("bad-value:name", ["@POS@", "a b"]), ("bad-value:name", ["@POS@", ".."]),
        ("bad-value:mtu", ["--mtu", "0"]), ("bad-value:mtu", ["--mtu", "-1"]), ("bad-value:mtu", ["--mtu", "70000"]),
        ("bad-value:mtu", ["--mtu", "abc"]), ("bad-value:mtu", ["--mtu", "99999999999999999999"]), ("bad-value:mtu", ["--mtu", "1e3"]),
        ("bad-value:subnet", ["--subnet", "10.88.0.0/33"]), ("bad-value:subnet", ["--subnet", "x"]),
    ],
    "bridge connect": [
        ("bad-value:ifname", ["--ifname", "x" * 16]), ("bad-value:ifname", ["--ifname", "a b"]),
        ("bad-value:ifname", ["--ifname", "eth\x1b0"]), ("bad-value:ifname", ["--ifname", "eth0/1"]), ("bad-value:ifname", ["--ifname", ""]),
        ("bad-value:ip", ["--ip", "bogus"]), ("bad-value:ip", ["--ip", "10.99.0.5"]), ("bad-value:netns", ["--netns", ""]),
        ("bad-value:owner", ["--owner", ""]), ("bad-value:name", ["@POS@", "x" * 16]), ("bad-value:name", ["@POS@", "br\x1b0"]),
    ],
    "bridge disconnect": [("bad-value:name", ["@POS@", "x" * 16]), ("bad-value:owner", ["--owner", ""])],
    "bridge delete": [("bad-value:name", ["@POS@", "x" * 16]), ("bad-value:name", ["@POS@", "b\u202er"])],
    "xfrm show": [],
}
RAFT_BAD_FLAGS = [
    ("bad-value:node-id", ["--node-id", ""], (EX_USAGE,)), ("bad-value:node-id", ["--node-id", "n\x1b1"], (EX_USAGE,)),
    ("bad-value:node-id", ["--node-id", "x" * 65], (EX_USAGE,)), ("bad-value:node-id", ["--node-id", "a\u202eb"], (EX_USAGE,)),
    ("bad-value:raft-addr", ["--raft-addr", "0.0.0.0:7946"], (EX_USAGE, EX_CONFIG)), ("bad-value:raft-addr", ["--raft-addr", "bad"], (EX_USAGE,)),
    ("bad-value:raft-addr", ["--raft-addr", "127.0.0.1:70000"], (EX_USAGE,)),
    ("bad-value:log-level", ["--log-level", "loud"], (EX_USAGE,)), ("bad-value:log-format", ["--log-format", "xml"], (EX_USAGE,)),
    ("bad-value:data-dir", ["--data-dir", ""], (EX_USAGE,)),
    ("unknown-flag", ["--backend", "fake"], (EX_USAGE,)), ("unknown-flag", ["--state-dir", "/tmp"], (EX_USAGE,)),
    ("unknown-flag", ["--bootstrapp"], (EX_USAGE,)), ("bad-value:output", ["-o", "yaml"], (EX_USAGE,)),
]
RAFT_TIMEOUT_BAD = [["--timeout", "-1"], ["--timeout", "nan"], ["--timeout", "inf"], ["--timeout", "3601"],
                    ["--timeout", "abc"], ["--timeout", "1e400"], ["--timeout", ""]]
RAFT_PEER_BAD = [["--peer", "bad"], ["--peer", "127.0.0.1:70000"], ["--peer", ""], ["--peer", "127.0.0.1"],
                 ["--peer", "127.0.0.1:9\x1b[31m"]]


def cli_cases(rng):
    cases = []
    S = "cli"

    def mk(cmd, base, muts, expect, nobody=False, env=None, seed="main", timeout=None, mode="reject"):
        argv = ["@BIN@"] + cmd.split() + list(base)
        for fam, toks in muts:
            if toks and toks[0] == "@POS@":
                # replace the positional NAME (first token after the subcommand)
                argv[1 + len(cmd.split())] = toks[1]
        if not cmd.startswith(("raft", "doctor")) and cmd != "ipvs":
            # the fake backend (unless a bad --backend is the mutation: then unprivileged, see below)
            argv += ["--state-dir", "@STATE@"] if nobody else ["--backend", "fake", "--state-dir", "@STATE@"]
        for fam, toks in muts:
            if not (toks and toks[0] == "@POS@"):
                argv += toks      # last, so a missing value really is missing
        fams = "+".join(sorted(set(f for f, _ in muts)))
        desc = " ".join(shq(t) for t in argv[1:] if not t.startswith("@"))
        cases.append(Case(S, fams, desc, argv, seed=seed, expect=expect, env=env, nobody=nobody, timeout=timeout,
                          mode=mode))

    for cmd, base in CLI_BASE.items():
        pool = GLOBAL_BAD + PER_CMD_BAD.get(cmd, [])
        own = PER_CMD_BAD.get(cmd, [])
        # every per-command bad value alone, then random combinations of 1-3 of everything
        for fam, toks in own:
            mk(cmd, base, [(fam, toks)], (EX_USAGE,))
        for _ in range(6 if own else 8):
            k = rng.randint(1, 3)
            muts = rng.sample(pool, k)
            # a missing value is only missing as the last token, and only once
            miss = [m for m in muts if m[0] == "missing-value"][:1]
            muts = [m for m in muts if m[0] != "missing-value"] + miss
            if sum(1 for _, t in muts if t and t[0] == "@POS@") > 1:
                muts = [m for m in muts if not (m[1] and m[1][0] == "@POS@")][:1] or muts[:1]
            if any(f.startswith("bad-value:backend") for f, _ in muts):
                # a bad --backend goes in place of fake: run unprivileged so nothing can reach a kernel
                mk(cmd, base, muts, (EX_USAGE,), nobody=True)
            else:
                mk(cmd, base, muts, (EX_USAGE,))
    for cmd, base in RAFT_CMDS.items():
        t = 3.0 if cmd == "raft serve" else None
        for fam, toks, exp in RAFT_BAD_FLAGS:
            if rng.random() < 0.5 or cmd == "raft serve":
                mk(cmd, base, [(fam, toks)], exp, seed="raft", timeout=t, mode="noserve")
        if cmd in ("raft join", "raft leave"):
            for toks in RAFT_TIMEOUT_BAD + (RAFT_PEER_BAD if cmd == "raft join" else RAFT_PEER_BAD[:3]):
                b = [x for x in base]
                if toks[0] in b:
                    i = b.index(toks[0])
                    del b[i:i + 2]
                mk(cmd, b, [("bad-value:" + toks[0].lstrip("-"), toks)], (EX_USAGE,), seed="raft")
        for _ in range(3):
            muts = rng.sample(GLOBAL_BAD[:7] + GLOBAL_BAD[15:], rng.randint(1, 2))
            miss = [m for m in muts if m[0] == "missing-value"][:1]
            muts = [m for m in muts if m[0] != "missing-value"] + miss
            mk(cmd, base, muts, (EX_USAGE,), seed="raft", timeout=t, mode="noserve")
    # doctor: only argument errors, unprivileged (it reads the host whatever --backend says; never --fix)
    for muts in ([("unknown-flag", ["--bogus"])], [("bad-value:output", ["-o", "xml"])], [("extra-argument", ["x\x1by"])],
                 [("bad-value:backend", ["--backend", "fa\x1bke"])], [("missing-value", ["-c"])]):
        mk("doctor", [], muts, (EX_USAGE,), nobody=True)
    mk("ipvs", [], [("unknown-subcommand", ["bogus"])], (EX_USAGE,), nobody=True)
    mk("ipvs", [], [("unknown-subcommand", ["app\x1b[31mly"])], (EX_USAGE,), nobody=True)
    cases.append(Case(S, "unknown-subcommand", "ezlb $'\\e]0;x\\a'", ["@BIN@", "\x1b]0;x\x07"], expect=(EX_USAGE,), nobody=True))

    # environment: EZLB_BACKEND / EZLB_STATE_DIR empty or bad must be usage errors, never a fallback to the
    # real kernel or /var/lib/ezlb. These run as uid 65534 with no --backend flag: if the product falls back
    # to the kernel it gets EPERM (a failure here) instead of touching anything.
    envs = [
        ("env:EZLB_BACKEND", {"EZLB_BACKEND": ""}, "EZLB_BACKEND"), ("env:EZLB_BACKEND", {"EZLB_BACKEND": "KERNEL"}, "EZLB_BACKEND"),
        ("env:EZLB_BACKEND", {"EZLB_BACKEND": "fake "}, "EZLB_BACKEND"), ("env:EZLB_BACKEND", {"EZLB_BACKEND": "fa\x1bke"}, "EZLB_BACKEND"),
        ("env:EZLB_BACKEND", {"EZLB_BACKEND": " "}, "EZLB_BACKEND"), ("env:EZLB_BACKEND", {"EZLB_BACKEND": "fake\n"}, "EZLB_BACKEND"),
        ("env:EZLB_BACKEND", {"EZLB_BACKEND": "\u202efake"}, "EZLB_BACKEND"),
    ]
    cmds = [["ipvs", "show"], ["snat", "show"], ["xfrm", "show"], ["ipvs", "plan", "-c", "@SCONF@/base.yaml"],
            ["bridge", "list", "-c", "@SCONF@/base.yaml"], ["ipam", "list", "-c", "@SCONF@/base.yaml"],
            ["ipvs", "health", "-c", "@SCONF@/base.yaml"]]
    for i, (fam, env, name) in enumerate(envs):
        for j in range(2):
            cmd = cmds[(i * 2 + j) % len(cmds)]
            argv = ["@BIN@"] + cmd + ["--state-dir", "@STATE@"]
            cases.append(Case(S, fam, "%s %s" % (" ".join("%s=%s" % (k, shq(v)) for k, v in env.items()), " ".join(cmd)),
                              argv, env=dict(env, EZLB_STATE_DIR="@STATE@"), nobody=True, expect=(EX_USAGE,), names=name))
    for i, val in enumerate(["", "\x1b[31m", "a\nb", "relative/dir\u202e"]):
        cmd = cmds[i % len(cmds)]
        argv = ["@BIN@"] + cmd + ["--backend", "fake"]
        # '' must be refused; an odd but legal relative name may be used (uid 65534 cannot create it):
        # then only escaped output and no change are asserted
        exp = (EX_USAGE,) if val == "" else (0, 1, EX_USAGE, EX_CONFIG)
        cases.append(Case(S, "env:EZLB_STATE_DIR", "EZLB_STATE_DIR=%s %s" % (shq(val), " ".join(cmd)), argv,
                          env={"EZLB_STATE_DIR": val}, nobody=True, expect=exp,
                          names="EZLB_STATE_DIR" if val == "" else None, mode="reject" if val == "" else "tolerant"))
    for val in ["", "-1", "abc", "1e99", "inf", "nan", " 5", "99999999999999999999", "5\x1b"]:
        for cmd in (["ipvs", "show"], ["ipam", "list", "-c", "@SCONF@/base.yaml"]):
            argv = ["@BIN@"] + cmd + ["--backend", "fake", "--state-dir", "@STATE@"]
            cases.append(Case(S, "env:EZLB_LOCK_TIMEOUT", "EZLB_LOCK_TIMEOUT=%s %s" % (shq(val), " ".join(cmd)), argv,
                              env={"EZLB_LOCK_TIMEOUT": val}, expect=(EX_USAGE,), names="EZLB_LOCK_TIMEOUT"))
    # a value that is not bad, with control characters: must be refused or printed escaped, with no change
    for owner in ["a\x1b[31mb", "a\nb", "\u202eevil", "a\rb"]:
        cases.append(Case(S, "escape:owner", "ipam list --owner %s" % shq(owner),
                          ["@BIN@", "ipam", "list", "--owner", owner, "-c", "@SCONF@/base.yaml", "--backend", "fake", "--state-dir", "@STATE@"],
                          expect=(0, EX_USAGE), mode="tolerant"))
        cases.append(Case(S, "escape:owner", "ipam release --owner %s" % shq(owner),
                          ["@BIN@", "ipam", "release", "--subnet", "10.1.0.0/24", "--owner", owner, "-c", "@SCONF@/base.yaml",
                           "--backend", "fake", "--state-dir", "@STATE@"], expect=(0, EX_USAGE), mode="tolerant"))
    return cases


# --------------------------------------------------------------------------------------------
# Running

# Every child is spawned by this small launcher process, started before the corpus is built:
# ru_maxrss survives fork and exec, so a child forked from the (large) harness would report the
# harness's RSS as its own. The launcher stays at ~10 MiB; that is the floor of every RSS figure.
LAUNCHER = r"""
import json, os, signal, subprocess, sys, threading, time
out_lock = threading.Lock()
def enc(s):
    return s.encode("utf-8", "surrogateescape")
def handle(q):
    fo = open(q["out"], "wb"); fe = open(q["err"], "wb")
    kw = dict(user=65534, group=65534, extra_groups=[]) if q["nobody"] else {}
    t0 = time.monotonic()
    try:
        p = subprocess.Popen([enc(a) for a in q["argv"]], stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                             cwd=q["cwd"], env={enc(k): enc(v) for k, v in q["env"].items()},
                             start_new_session=True, **kw)
    except OSError as e:
        resp = {"id": q["id"], "spawn_error": repr(e)}
    else:
        timed_out = False
        delay = 0.0005
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > q["timeout"]:
                timed_out = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.01)
        elapsed = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        try:
            os.killpg(p.pid, signal.SIGKILL)   # leftovers of the group (hooks of a raft serve that started)
        except (ProcessLookupError, PermissionError):
            pass
        resp = {"id": q["id"], "rc": p.returncode, "time": elapsed, "rss_kib": ru.ru_maxrss, "timed_out": timed_out}
    fo.close(); fe.close()
    with out_lock:
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()
for line in sys.stdin:
    threading.Thread(target=handle, args=(json.loads(line),), daemon=True).start()
"""


class Launcher:
    def __init__(self):
        self.p = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, errors="surrogateescape")
        self.lock = threading.Lock()
        self.waiting = {}
        self.n = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for line in self.p.stdout:
            resp = json.loads(line)
            slot = self.waiting.pop(resp["id"])
            slot[1].update(resp)
            slot[0].set()

    def call(self, **q):
        ev, resp = threading.Event(), {}
        with self.lock:
            self.n += 1
            q["id"] = self.n
            self.waiting[self.n] = (ev, resp)
            self.p.stdin.write(json.dumps(q) + "\n")
            self.p.stdin.flush()
        if not ev.wait(q["timeout"] + 60):
            raise RuntimeError("launcher did not answer")
        if "spawn_error" in resp:
            raise RuntimeError("cannot start %s: %s" % (q["argv"][0], resp["spawn_error"]))
        return resp

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(10)
        except Exception:
            pass


class Runner:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="ezlb-fuzz-", dir=args.workdir)
        os.chmod(self.work, 0o711)
        self.bindir = os.path.join(self.work, "bin")
        os.mkdir(self.bindir, 0o755)
        os.chmod(self.bindir, 0o755)
        self.bin = os.path.join(self.bindir, "ezlb")
        # a private copy: the convergence keys hash the binary's inode/mtime, and a rebuild mid-run
        # must not turn every cache into a miss
        shutil.copy2(args.bin, self.bin)
        os.chmod(self.bin, 0o755)
        self.seeds = {}
        self.prlimit = shutil.which("prlimit")
        self.is_root = os.geteuid() == 0
        self.port = 21000 + (args.seed % 2000) * 10
        self.lock = threading.Lock()
        self.launcher = Launcher()

    # -- process ---------------------------------------------------------------------------------

    def env_for(self, extra, case_dir):
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "HOME": case_dir or self.work}
        for k, v in (extra or {}).items():
            env[k] = v
        return env

    def run(self, argv, env, cwd, timeout, nobody=False, outdir=None):
        """-> dict(rc, out, err, time, rss_kib, timed_out, out_len, err_len)"""
        outdir = outdir or self.work
        fo = tempfile.NamedTemporaryFile(dir=outdir, prefix="out.", delete=False)
        fe = tempfile.NamedTemporaryFile(dir=outdir, prefix="err.", delete=False)
        cmd = list(argv)
        if self.prlimit:
            cmd = [self.prlimit, "--as=%d" % self.args.as_limit, "--"] + cmd
        fo.close()
        fe.close()
        resp = self.launcher.call(argv=list(cmd), env=env, cwd=cwd, timeout=timeout, nobody=nobody,
                                  out=fo.name, err=fe.name)
        res = {k: resp[k] for k in ("rc", "time", "rss_kib", "timed_out")}
        for name, f in (("out", fo), ("err", fe)):
            res[name + "_len"] = os.path.getsize(f.name)
            with open(f.name, "rb") as fh:
                res[name] = fh.read(READ_CAP)
            os.unlink(f.name)
        return res

    def subst(self, tok, case_dir, port, seed="main"):
        if not isinstance(tok, str):
            return tok
        return (tok.replace("@BIN@", self.bin).replace("@STATE@", os.path.join(case_dir, "state"))
                .replace("@SCONF@", os.path.join(self.work, "sconf-" + seed))
                .replace("@CONF@", os.path.join(case_dir, "conf")).replace("@CASE@", case_dir)
                .replace("@PORT2@", str(port + 2)).replace("@PORT@", str(port)))

    # -- seeds ---------------------------------------------------------------------------------

    def seed_cmd(self, seed_dir, argv, seed, expect_rc=0):
        full = [self.subst(t, seed_dir, self.port, seed) for t in full_argv(argv)]
        r = self.run(full, self.env_for({}, seed_dir), seed_dir, 60)
        if r["rc"] != expect_rc:
            raise HarnessError("seed command %s exited %s (expected %s): %s" % (
                " ".join(shq(t) for t in full), r["rc"], expect_rc, r["err"].decode("utf-8", "replace").strip()))
        return r

    def build_seeds(self):
        # main: ipam + bridge + ipvs + snat + xfrm, converged
        d = os.path.join(self.work, "seed-main")
        os.makedirs(os.path.join(d, "state"))
        os.makedirs(os.path.join(d, "conf"))
        write(os.path.join(d, "conf/base.yaml"), BASE_YAML.encode())
        write(os.path.join(d, "conf/ipsec.yaml"), IPSEC_YAML.encode())
        write(os.path.join(d, "conf/pods.json"), json.dumps(PODS_JSON, indent=2).encode())
        write(os.path.join(d, "conf/psk"), PSK.encode(), 0o600)
        write(os.path.join(d, "state/fake-kernel.json"), FAKE_KERNEL_SEED.encode())
        steps = [
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "demo", "-c", "@SCONF@/base.yaml"],
            ["bridge", "create", "ezbr0", "--subnet", "10.88.0.0/24", "-c", "@SCONF@/base.yaml"],
            ["bridge", "connect", "ezbr0", "--netns", "c1", "--owner", "c1", "-c", "@SCONF@/base.yaml"],
            ["ipvs", "apply", "-c", "@SCONF@/base.yaml"],
            ["snat", "sync", "-c", "@SCONF@/base.yaml"],
            ["xfrm", "sync", "-c", "@SCONF@/ipsec.yaml"],
        ]
        # the convergence keys hash the config's path: every run that must hit the cache names the config
        # by this one shared path (@SCONF@), never by a per-case copy
        shutil.copytree(os.path.join(d, "conf"), os.path.join(self.work, "sconf-main"))
        for s in steps:
            self.seed_cmd(d, s, "main")
        # fixed timestamps, so the seed (and the corpus cut from it) is the same on every run
        normalize_times(os.path.join(d, "state"))
        for s in steps[3:]:
            self.seed_cmd(d, s, "main")  # record the convergence caches against the final tables and files
        self.seeds["main"] = d
        # health: exec probes, one backend failing (sorry server in use)
        h = os.path.join(self.work, "seed-health")
        os.makedirs(os.path.join(h, "state"))
        os.makedirs(os.path.join(h, "conf"))
        write(os.path.join(h, "conf/health.yaml"), HEALTH_YAML.encode())
        write(os.path.join(h, "state/fake-kernel.json"), FAKE_KERNEL_SEED.encode())
        shutil.copytree(os.path.join(h, "conf"), os.path.join(self.work, "sconf-health"))
        for s in (["ipvs", "apply", "-c", "@SCONF@/health.yaml"], ["ipvs", "apply", "-c", "@SCONF@/health.yaml"],
                  ["snat", "sync", "-c", "@SCONF@/health.yaml"]):
            self.seed_cmd(h, s, "health")
        normalize_times(os.path.join(h, "state"))
        self.seed_cmd(h, ["snat", "sync", "-c", "@SCONF@/health.yaml"], "health")
        self.seeds["health"] = h
        # raft: a config only
        r = os.path.join(self.work, "seed-raft")
        os.makedirs(os.path.join(r, "state"))
        os.makedirs(os.path.join(r, "conf"))
        write(os.path.join(r, "conf/raft.yaml"), RAFT_YAML.encode())
        write(os.path.join(r, "conf/psk"), PSK.encode(), 0o600)
        self.seeds["raft"] = r
        for (seed, fname) in [("main", f) for f in ("ipvs.json", "snat.json", "xfrm.json", "bridges.json", "ipam.json",
                                                     "fake-kernel.json", "ipvs.converged", "snat.converged", "xfrm.converged")] + \
                             [("health", "health.json")]:
            p = os.path.join(self.seeds[seed], "state", fname)
            if not os.path.exists(p):
                raise HarnessError("seed %s has no %s (files: %s)" % (seed, fname, sorted(os.listdir(os.path.dirname(p)))))
            with open(p, "rb") as fh:
                SEED_FILES[(seed, fname)] = fh.read()

    def controls(self):
        """Every command template the corpus uses, on the unmodified seed: exit 0 and, unless it is a
        command that changes a valid seed, a byte-identical state. Also: each state-file command really
        reads its file (a torn copy makes it exit 78), and raft serve on the valid config does start."""
        notes = []
        checks = []
        for fname, cmds in STATE_COMMANDS.items():
            for seed, argv in cmds:
                checks.append((seed, argv, fname))
        for fname, argv in CONVERGED.items():
            checks.append(("main", argv, None))
        for cmd, base in CLI_BASE.items():
            checks.append(("main", cmd.split() + base, None))
        checks.append(("main", ["ipvs", "plan", "-c", "@SCONF@/base.yaml"], None))
        checks.append(("health", ["ipvs", "plan", "--no-probe", "-c", "@SCONF@/health.yaml"], None))
        checks.append(("main", ["snat", "sync", "-c", "@SCONF@/base.yaml", "--dry-run"], None))
        checks.append(("main", ["xfrm", "sync", "-c", "@SCONF@/ipsec.yaml", "--dry-run"], None))
        checks.append(("main", ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "demo", "-c", "@CONF@/fuzz.yaml"], None))
        seen = set()
        for seed, argv, fname in checks:
            key = (seed, tuple(argv))
            mutating = tuple(argv[:2]) in MUTATING or "c9" in argv     # the CLI's bridge connect makes a new connection
            if key not in seen:
                seen.add(key)
                cd = self.fresh(seed, "control")
                if "@CONF@/fuzz.yaml" in argv:
                    shutil.copy2(os.path.join(cd, "conf/base.yaml"), os.path.join(cd, "conf/fuzz.yaml"))
                before = snapshot(cd)
                full = [self.subst(t, cd, self.port, seed) for t in full_argv(argv)]
                r = self.run(full, self.env_for({}, cd), cd, 30)
                after = snapshot(cd)
                if r["rc"] != 0 or r["err"].strip():
                    raise HarnessError("control %s: exit %s, stderr %r" % (" ".join(argv), r["rc"], r["err"][:300]))
                if not mutating and before != after:
                    raise HarnessError("control %s changed the seed: %s" % (" ".join(argv), diff_snap(before, after)))
                shutil.rmtree(cd)
            if fname:
                cd = self.fresh(seed, "control")
                write(os.path.join(cd, "state", fname), b"{")
                full = [self.subst(t, cd, self.port, seed) for t in full_argv(argv)]
                r = self.run(full, self.env_for({}, cd), cd, 30)
                shutil.rmtree(cd)
                if r["rc"] != EX_CONFIG:
                    notes.append("note: %s exits %s on a torn %s: dropped from that file's commands" % (
                        " ".join(argv[:2]), r["rc"], fname))
                    STATE_COMMANDS[fname] = [c for c in STATE_COMMANDS[fname] if c[1] != argv]
        # raft: status on the valid config exits 1 (nothing serving); serve on it starts (our hang detector works)
        cd = self.fresh("raft", "control")
        conf = os.path.join(cd, "conf/raft.yaml")
        write(conf, self.subst(RAFT_YAML, cd, self.port).encode())
        r = self.run([self.bin, "raft", "status", "-c", conf], self.env_for({}, cd), cd, 10)
        if r["rc"] != 1:
            raise HarnessError("control raft status on the valid config: exit %s (expected 1): %r" % (r["rc"], r["err"][:300]))
        r = self.run([self.bin, "raft", "serve", "-c", conf], self.env_for({}, cd), cd, 1.5)
        if not r["timed_out"]:
            raise HarnessError("control raft serve on the valid config did not keep serving: exit %s: %r" % (r["rc"], r["err"][:300]))
        shutil.rmtree(cd, ignore_errors=True)
        # what ru_maxrss reports for a process that does nothing: the harness's own RSS leaks into every
        # child's high-water mark through fork+exec, so this is the floor of every figure below
        r = self.run(["/bin/true"], self.env_for({}, None), self.work, 10)
        self.baseline_rss = r["rss_kib"]
        # nobody can run the binary
        if self.is_root:
            r = self.run([self.bin, "--version"], self.env_for({}, None), self.work, 10, nobody=True)
            if r["rc"] != 0:
                raise HarnessError("uid %d cannot run the copied binary: exit %s %r" % (NOBODY, r["rc"], r["err"][:200]))
        return notes

    def fresh(self, seed, tag):
        with self.lock:
            self._n = getattr(self, "_n", 0) + 1
            n = self._n
        d = os.path.join(self.work, "cases", "%s-%d" % (tag.replace("/", "_").replace(":", "_"), n))
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copytree(self.seeds[seed], d, symlinks=True)
        for lk in os.listdir(os.path.join(d, "state")):
            if lk.endswith(".lock"):
                os.unlink(os.path.join(d, "state", lk))
        return d

    # -- one case ------------------------------------------------------------------------------

    def apply_ops(self, case, cd, port):
        for op in case.ops:
            p = os.path.join(cd, op[1])
            if os.path.lexists(p):
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
            if op[0] == "write":
                data = op[2]
                if case.seed == "raft":
                    sub = lambda b: self.subst(b.decode("utf-8", "surrogateescape"), cd, port).encode("utf-8", "surrogateescape")
                    data = data.map(sub) if isinstance(data, Big) else sub(data)
                write(p, data, op[3] if len(op) > 3 else 0o600)
            elif op[0] == "fifo":
                os.mkfifo(p, 0o600)
            elif op[0] == "dir":
                os.mkdir(p, 0o700)
            elif op[0] == "symlink":
                os.symlink(op[2], p)
            elif op[0] == "sparse":
                with open(p, "wb") as fh:
                    fh.truncate(op[2])
                os.chmod(p, 0o600)

    def run_case(self, case, idx):
        cd = self.fresh(case.seed, case.id)
        port = self.port + 10 + (idx % 4000) * 4 if case.seed == "raft" else self.port
        if case.seed == "raft":
            write(os.path.join(cd, "conf/raft.yaml"), self.subst(RAFT_YAML, cd, port).encode())
        self.apply_ops(case, cd, port)
        argv = [self.subst(t, cd, port, case.seed) for t in case.argv]
        env = self.env_for({k: self.subst(v, cd, port, case.seed) for k, v in case.env.items()}, cd)
        if case.nobody and not self.is_root:
            return cd, None, ["skipped: needs root to run as uid %d" % NOBODY], argv, env
        before = snapshot(cd)
        timeout = case.timeout or (min(self.args.timeout, 3.0) if case.mode == "noserve" else self.args.timeout)
        os.makedirs(os.path.join(self.work, "out"), exist_ok=True)
        r = self.run(argv, env, cd if not case.nobody else self.work, timeout, nobody=case.nobody,
                     outdir=os.path.join(self.work, "out"))
        after = snapshot(cd)
        fails = self.check(case, r, before, after, cd)
        return cd, r, fails, argv, env

    def check(self, case, r, before, after, cd):
        f = []
        rc = r["rc"]
        err = r["err"]
        if r["timed_out"]:
            f.append(("timeout", "still running after %.1fs%s" % (r["time"], " (serving)" if case.mode == "noserve" else "")))
        elif rc < 0 or rc >= 128:
            sig = -rc if rc < 0 else rc - 128
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            f.append(("signal", "killed by %s" % name))
        elif rc not in case.expect:
            f.append(("exit", "exit %d (expected %s)" % (rc, "/".join(map(str, sorted(case.expect))))))
        for stream in ("out", "err"):
            prob = output_problem(r[stream])
            if prob:
                f.append(("control-chars", "std%s: %s" % (stream, prob)))
        if r["rss_kib"] > self.args.max_rss // 1024:
            f.append(("memory", "max RSS %d MiB" % (r["rss_kib"] // 1024)))
        if r["out_len"] > READ_CAP or r["err_len"] > READ_CAP:
            f.append(("output-size", "stdout %d B, stderr %d B" % (r["out_len"], r["err_len"])))
        ok_rc = not r["timed_out"] and rc in case.expect
        reject = case.mode in ("reject", "noserve") or (case.mode in ("warn", "tolerant", "warn-serve") and rc in (EX_CONFIG, EX_USAGE))
        warned = lambda: any(case.token.split("\x1b")[0].split("\u202e")[0] in l and
                             (l.startswith("ezlb: warning:") or "unknown key" in l)
                             for l in err.decode("utf-8", "replace").splitlines())
        if case.mode == "warn" and ok_rc and rc not in (EX_CONFIG, EX_USAGE):
            if not warned():
                f.append(("unknown-key-silent", "accepted with no warning naming %r" % case.token))
        if case.mode == "warn-serve" and r["timed_out"]:
            f = [x for x in f if x[0] != "timeout"]      # a valid config with a typo serves: that is right
            if not warned():
                f.append(("unknown-key-silent", "serving with no warning naming %r" % case.token))
        elif reject and ok_rc:
            text = err.decode("utf-8", "replace")
            if text.endswith("\n"):
                text = text[:-1]
            lines = text.split("\n")
            if len(lines) != 1:
                f.append(("stderr-lines", "stderr has %d lines" % len(lines)))
            if not lines[0].startswith("ezlb: error:"):
                f.append(("stderr-format", "stderr does not start with 'ezlb: error:'"))
            alts = case.names if isinstance(case.names, tuple) else (case.names,) if case.names else ()
            if alts and not any(a in text for a in alts):
                f.append(("no-file-name", "error does not name %s" % " or ".join(map(repr, alts))))
        if case.mode == "miss":
            if rc == 0 and err.strip():
                f.append(("stderr-lines", "a cache miss printed on stderr"))
            seed_snap = snapshot_seed_entry(self.seeds[case.seed], case.target)
            for k in diff_snap(before, after):
                name = k[1:]
                if name == case.target and k[0] == "~" and after.get(name) == seed_snap:
                    continue
                if name == case.target and k[0] == "+" and after.get(name) == seed_snap:
                    continue
                f.append(("state-changed", "%s" % k))
        elif case.mode == "warn-serve" and r["timed_out"]:
            pass                                        # it serves: its data_dir appears
        else:
            changed = diff_snap(before, after)
            if changed:
                f.append(("state-changed", " ".join(changed[:6]) + (" ..." if len(changed) > 6 else "")))
        return f


TIME_FIELDS = re.compile(rb'("(?:since|out_since|last_probe|last_change|since_time)" : )-?[0-9.eE+]+')
ISO_TIME = re.compile(rb'("allocated_at" : )"[^"]*"')


def normalize_times(state):
    for f in ("ipam.json", "xfrm.json", "health.json"):
        p = os.path.join(state, f)
        if os.path.exists(p):
            with open(p, "rb") as fh:
                data = fh.read()
            data = TIME_FIELDS.sub(rb"\g<1>1000000000.25", data)
            data = ISO_TIME.sub(rb'\g<1>"2001-09-09T01:46:40Z"', data)
            write(p, data, stat.S_IMODE(os.stat(p).st_mode))


def snapshot_seed_entry(seed_dir, rel):
    p = os.path.join(seed_dir, rel)
    with open(p, "rb") as fh:
        return ("file", fh.read(), stat.S_IMODE(os.stat(p).st_mode))


def write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        if isinstance(data, Big):
            data.write_to(fh)
        else:
            fh.write(data)
    os.chmod(path, mode)


class HarnessError(Exception):
    pass


# --------------------------------------------------------------------------------------------


def repro(case, argv, env, cd):
    parts = []
    for k, v in case.env.items():
        parts.append("%s=%s" % (k, shq(env[k])))
    parts += [shq(a) for a in argv]
    s = " ".join(parts)
    if case.nobody:
        s = "setpriv --reuid=%d --regid=%d --clear-groups %s" % (NOBODY, NOBODY, s)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the ezlb binary")
    ap.add_argument("--figures", help="write per-surface figures and failure classes (JSON) here")
    ap.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    ap.add_argument("--jobs", type=int, default=max(2, os.cpu_count() or 2), help="parallel runs (default: CPUs, at least 2)")
    ap.add_argument("--timeout", type=float, default=5.0, help="per-run timeout in seconds (default 5; raft serve: 3)")
    ap.add_argument("--as-limit", type=int, default=1 << 30, help="address-space limit per run, bytes (default 1 GiB)")
    ap.add_argument("--max-rss", type=int, default=256 << 20, help="max RSS per run, bytes (default 256 MiB)")
    ap.add_argument("--only", help="run only cases whose id or mutation family matches this regex (e.g. '^ipvs-config/01', 'special:fifo')")
    ap.add_argument("--list", action="store_true", help="list the corpus and exit")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (failing cases' dirs are always listed)")
    ap.add_argument("--workdir", help="parent of the scratch directory (default: $TMPDIR or /tmp; must allow exec)")
    ap.add_argument("--verbose", action="store_true", help="print every failing case, not one per class")
    args = ap.parse_args()

    t_start = now()
    if not os.access(args.bin, os.X_OK):
        print("fuzz.py: %s is not an executable" % args.bin, file=sys.stderr)
        return 2
    runner = Runner(args)
    varlib = os.path.exists("/var/lib/ezlb")
    varlib_snap = snapshot("/var/lib/ezlb") if varlib else None
    try:
        try:
            runner.build_seeds()
            notes = runner.controls()
        except HarnessError as e:
            print("fuzz.py: baseline failed: %s" % e, file=sys.stderr)
            return 2
        cases = corpus(args.seed)
        if args.only:
            rx = re.compile(args.only)
            cases = [c for c in cases if rx.search(c.id) or rx.search(c.family)]
        if args.list:
            for c in cases:
                print("%-28s %-26s %s" % (c.id, c.family, c.desc[:120].encode("unicode_escape").decode()))
            return 0
        for n in notes:
            print(n)
        print("fuzz.py: %d inputs, %d jobs, timeout %.1fs, seed %d, binary %s (copied to %s); RSS floor %d MiB" % (
            len(cases), args.jobs, args.timeout, args.seed, args.bin, runner.bin, runner.baseline_rss // 1024), flush=True)

        results = [None] * len(cases)
        done = [0]

        def one(i):
            c = cases[i]
            try:
                cd, r, fails, argv, env = runner.run_case(c, i)
            except Exception as e:  # a harness bug: report it as such, never as a product failure
                results[i] = (c, None, [("harness", "harness error: %r" % e)], [], {}, None)
                return
            results[i] = (c, r, fails, argv, env, cd)
            if not fails and not args.keep:
                shutil.rmtree(cd, ignore_errors=True)
            with runner.lock:
                done[0] += 1
                if done[0] % 250 == 0:
                    print("  %d/%d (%.0fs)" % (done[0], len(cases), now() - t_start), flush=True)

        # hang-prone inputs first, so their timeouts overlap the rest
        order = sorted(range(len(cases)), key=lambda i: 0 if cases[i].family.startswith(("special", "deep", "alias", "long")) else 1)
        with ThreadPoolExecutor(max_workers=args.jobs) as ex:
            list(ex.map(one, order))

        # figures
        surfaces = {}
        classes = {}
        harness_errors = 0
        for c, r, fails, argv, env, cd in results:
            s = surfaces.setdefault(c.surface, {"inputs": 0, "passed": 0, "failed": 0, "skipped": 0,
                                                "max_time_s": 0.0, "max_rss_kib": 0, "slowest": None, "largest": None})
            s["inputs"] += 1
            if r is None and fails and fails[0][0] == "harness":
                harness_errors += 1
            if r is None and fails and fails[0][1].startswith("skipped"):
                s["skipped"] += 1
                continue
            if r is not None:
                if r["time"] > s["max_time_s"]:
                    s["max_time_s"], s["slowest"] = round(r["time"], 3), c.id
                if r["rss_kib"] > s["max_rss_kib"]:
                    s["max_rss_kib"], s["largest"] = r["rss_kib"], c.id
            if fails:
                s["failed"] += 1
                for kind, detail in fails:
                    if c.surface == "cli":
                        fam = c.family.split("+")[0]            # a combination is classed by its first family
                    elif c.family.startswith(("value", "special")):
                        fam = c.family                          # value:<key>, special:<kind> stay apart
                    else:
                        fam = c.family.split(":")[0]
                    key = (c.surface, kind, fam)
                    cl = classes.setdefault(key, {"surface": c.surface, "check": kind, "family": fam, "count": 0, "examples": []})
                    cl["count"] += 1
                    cl["examples"].append((len(c.ops[0][2]) if c.ops and c.ops[0][0] == "write" else 0, c.id, c.desc, detail,
                                           repro(c, argv, env, cd) if argv else "", cd,
                                           (r["err"][:300].decode("utf-8", "backslashreplace") if r else "")))
            else:
                s["passed"] += 1

        wall = now() - t_start
        r = runner.run(["/bin/true"], runner.env_for({}, None), runner.work, 10)
        runner.baseline_rss = max(runner.baseline_rss, r["rss_kib"])
        print()
        print("%-24s %7s %7s %7s %10s %10s" % ("surface", "inputs", "passed", "failed", "max time", "max RSS"))
        for name in sorted(surfaces):
            s = surfaces[name]
            print("%-24s %7d %7d %7d %9.2fs %7d MiB%s" % (name, s["inputs"], s["passed"], s["failed"], s["max_time_s"],
                                                        s["max_rss_kib"] // 1024,
                                                        "  (%d skipped: not root)" % s["skipped"] if s["skipped"] else ""))
        tot = sum(s["inputs"] for s in surfaces.values())
        totf = sum(s["failed"] for s in surfaces.values())
        print("%-24s %7d %7d %7d   wall %.1fs" % ("total", tot, tot - totf, totf, wall))
        if classes:
            print("\nFAILURE CLASSES (surface / check / mutation family: count; smallest example):")
            for key in sorted(classes):
                cl = classes[key]
                ex = sorted(cl["examples"], key=lambda e: (e[0], e[1]))
                show = ex if args.verbose else ex[:1]
                print("\n[%s] %s / %s: %d" % (cl["surface"], cl["check"], cl["family"], cl["count"]))
                for size, cid, desc, detail, rep, cd, errtxt in show:
                    print("  %s  %s" % (cid, desc[:160].encode("unicode_escape").decode()))
                    print("    -> %s" % detail)
                    if errtxt:
                        print("    stderr: %s" % errtxt.strip().replace("\n", "\\n")[:240].encode("unicode_escape").decode())
                    print("    run:  %s" % rep[:400])
                    print("    (inputs kept in %s; re-run: fuzz.py --bin BIN --seed %d --only '^%s$' --keep)" % (cd, args.seed, re.escape(cid)))
        if varlib_snap is not None or os.path.exists("/var/lib/ezlb"):
            now_snap = snapshot("/var/lib/ezlb") if os.path.exists("/var/lib/ezlb") else None
            if now_snap != varlib_snap:
                print("\nFAILURE: /var/lib/ezlb changed during the run: %s" % diff_snap(varlib_snap or {}, now_snap or {}))
                totf += 1
        if args.figures:
            fig = {"seed": args.seed, "binary": os.path.abspath(args.bin), "inputs": tot, "failed": totf,
                   "rss_floor_kib": runner.baseline_rss,
                   "wall_s": round(wall, 1), "timeout_s": args.timeout, "surfaces": surfaces,
                   "classes": [{k: v for k, v in cl.items() if k != "examples"} | {
                       "example": sorted(cl["examples"], key=lambda e: (e[0], e[1]))[0][1],
                       "detail": sorted(cl["examples"], key=lambda e: (e[0], e[1]))[0][3],
                       "run": sorted(cl["examples"], key=lambda e: (e[0], e[1]))[0][4]} for cl in
                       (classes[k] for k in sorted(classes))]}
            fig["runs"] = [[c.id, r["rc"], round(r["time"], 3), r["rss_kib"], len(fails)] if r else [c.id, None, None, None, len(fails)]
                           for c, r, fails, argv, env, cd in results]
            with open(args.figures, "w") as fh:
                json.dump(fig, fh, indent=1, default=str)
        if harness_errors:
            print("\nfuzz.py: %d harness errors (see above): not product failures" % harness_errors)
            return 2
        if totf:
            print("\nfuzz.py: FAILED: %d of %d inputs (%d classes), %.1fs" % (totf, tot, len(classes), wall))
            return 1
        print("\nfuzz.py: ok: %d inputs, %.1fs" % (tot, wall))
        return 0
    finally:
        runner.launcher.close()
        if not args.keep:
            # keep the dirs of failing cases (they are listed above); drop everything else
            for sub in ("out", "seed-main", "seed-health", "seed-raft", "sconf-main", "sconf-health", "bin"):
                shutil.rmtree(os.path.join(runner.work, sub), ignore_errors=True)
            cases_dir = os.path.join(runner.work, "cases")
            if not os.path.isdir(cases_dir) or not os.listdir(cases_dir):
                shutil.rmtree(runner.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
