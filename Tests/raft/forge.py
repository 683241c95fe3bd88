#!/usr/bin/env python3
"""Raft traffic forged by a host that is not a cluster member (issue #19, item 1).

For --seconds, against every TARGET (ip:port of a raft port, "=raft id" to aim
ezlb's handshake at that node), over and over:
  * libraft 0.15's own TCP handshake, then a RequestVote with a high term and
    the disrupt-leader flag, then an empty AppendEntries with a higher term:
    against libraft's stock transport one such vote deposes the leader;
  * ezlb's transport handshake with a random nonce and a made-up proof: what an
    attacker who knows ezlb's protocol but not the cluster secret can send.
Prints how many connections were made and how many got further than the
handshake. Exit 0 always: the test judges the cluster, not this script."""
import argparse
import os
import socket
import struct
import time


def libraft_handshake(node_id, addr):
    a = addr.encode() + b"\0"
    a += b"\0" * (-len(a) % 8)
    return struct.pack("<QQQ", 1, node_id, len(a)) + a


def request_vote(term, candidate):
    # type 3 (RequestVote), 40 bytes: term, candidate, last index, last term, flags (disrupt leader)
    return struct.pack("<QQ", 3, 40) + struct.pack("<QQQQQ", term, candidate, 1 << 40, 1 << 40, 1)


def append_entries(term):
    # type 1 (AppendEntries), 40 bytes: term, prev index, prev term, commit, no entries
    return struct.pack("<QQ", 1, 40) + struct.pack("<QQQQQ", term, 0, 0, 0, 0)


def ezlb_hello(client_id, server_id, addr):
    a = addr.encode()
    return b"EZLBRFT1" + os.urandom(32) + struct.pack(">QQB", client_id, server_id, len(a)) + a


def send(target, payload, read_reply=False):
    host, port = target.split("=")[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1) as s:
            s.sendall(payload)
            if read_reply:
                s.settimeout(1)
                challenge = s.recv(64)
                s.sendall(os.urandom(32))  # a made-up proof
                s.sendall(struct.pack(">I", 48) + request_vote(1 << 32, 99) + os.urandom(16))
                return 1 if challenge else 0
            time.sleep(0.05)
            return 1
    except OSError:
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--me", default="10.77.0.99:7946")
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    end = time.time() + a.seconds
    term, sent, answered = 1000, 0, 0
    while time.time() < end:
        for t in a.targets:
            term += 1
            sent += send(t, libraft_handshake(99, a.me) + request_vote(term, 99) + append_entries(term + 1))
            server_id = int(t.split("=")[1]) if "=" in t else 0
            answered += send(t, ezlb_hello(99, server_id, a.me), read_reply=True)
        time.sleep(0.02)
    print(f"connections: {sent} libraft-style, {answered} ezlb-style answered")


main()
