#!/usr/bin/python
# -*- coding: utf-8 -*-
#
# Ansible module for ezlb (contrib/ansible in the ezlb repository).
# It runs the ezlb binary with `-o json` and reports what the JSON result says.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ezlb
short_description: Run ezlb (IPVS, FullNAT SNAT, IPAM, bridges, IPsec/xfrm) commands
version_added: "0.1.0"
description:
  - Runs one C(ezlb) command on the target, always with C(-o json), and reports
    the command's JSON result.
  - C(changed) is the C(changed) field of ezlb's JSON result, so a converged
    re-run (for example a second C(ipvs apply) with the same config) is C(ok).
  - In check mode (C(--check) or C(check_mode=true)) commands that change
    something are run with C(--dry-run); ezlb plans and reports what it would do
    and changes nothing, and C(changed) says whether something would change.
    Read-only commands (C(ipvs show), C(ipvs plan), C(ipvs health), C(snat show),
    C(xfrm show), C(ipam list), C(bridge list)) run unchanged in check mode.
  - C(ipvs plan) is a dry run of its own; like a check-mode C(ipvs apply) it reports
    C(changed) when an apply would change something (drift detection; use
    C(changed_when=false) to report it as C(ok)).
  - The task fails when ezlb exits non-zero or its JSON result lists errors;
    C(msg) is ezlb's error line (several joined by C(; )).
  - C(ezlb raft ...) is not supported (C(raft serve) is a long-running daemon;
    the other raft commands take neither C(--backend) nor C(--dry-run)).
options:
  command:
    description:
      - The ezlb subcommand, as a string (C(ipvs apply)) or a list of words
        (C([ipvs, apply])).
      - One of C(ipvs apply), C(ipvs plan), C(ipvs show), C(ipvs health),
        C(ipvs cleanup), C(snat sync), C(snat show), C(snat cleanup),
        C(xfrm sync), C(xfrm show), C(xfrm cleanup), C(ipam allocate),
        C(ipam release), C(ipam list), C(bridge create), C(bridge delete),
        C(bridge connect), C(bridge disconnect), C(bridge list), C(doctor).
      - Positional arguments and further flags (a bridge name, C(--subnet) ...)
        go in I(args).
    type: raw
    required: true
  config:
    description:
      - The config file, passed as C(-c). When omitted ezlb uses C(EZLB_CONFIG)
        or C(/etc/ezlb/ezlb.yaml).
    type: path
  state_dir:
    description:
      - The state directory, passed as C(--state-dir) (ezlb's default is
        C(EZLB_STATE_DIR) or C(/var/lib/ezlb)).
    type: path
  backend:
    description:
      - C(kernel) changes the running kernel (needs root / C(CAP_NET_ADMIN));
        C(fake) changes the fake kernel in C(<state_dir>/fake-kernel.json) (any user).
      - When omitted ezlb uses C(EZLB_BACKEND) or C(kernel).
    type: str
    choices: [kernel, fake]
  args:
    description:
      - Further arguments, one list element per word, passed after the
        subcommand (no shell is involved), for example
        C([ezbr0, --subnet, 10.88.0.0/24]) or C([--adopt]) or C([--no-probe]).
      - The module sets C(-o), C(--dry-run), C(-c), C(--state-dir) and
        C(--backend) itself; giving them (or C(-q)/C(--quiet),
        C(--detailed-exitcode)) here is an error.
    type: list
    elements: str
    default: []
  binary:
    description:
      - The ezlb executable, a path or a name looked up on the target's C(PATH).
    type: str
    default: ezlb
  environment:
    description:
      - Extra environment variables for the ezlb process, for example
        C(EZLB_LOCK_TIMEOUT), C(EZLB_FIREWALL), C(EZLB_METRICS_FILE) or C(XTABLES_LOCKFILE).
    type: dict
    aliases: [env]
notes:
  - Supports check mode (see the description).
  - The exit codes and the JSON result are described in ezlb's docs/cli.md.
  - Command words and I(args) are passed as an argument list, never through a shell.
author:
  - ezlb maintainers
"""

EXAMPLES = r"""
- name: Reconcile IPVS with the config
  ezlb.ezlb.ezlb:
    command: ipvs apply
    config: /etc/ezlb/ezlb.yaml

- name: FullNAT rules for the full_nat services
  ezlb.ezlb.ezlb:
    command: snat sync
    config: /etc/ezlb/ezlb.yaml

- name: What would change (never changes anything, also outside check mode)
  ezlb.ezlb.ezlb:
    command: ipvs apply
    config: /etc/ezlb/ezlb.yaml
  check_mode: true
  register: plan

- name: Apply, skipping health probes, against the fake kernel (no root)
  ezlb.ezlb.ezlb:
    command: [ipvs, apply]
    config: "{{ playbook_dir }}/ezlb.yaml"
    backend: fake
    state_dir: /tmp/ezlb-state
    args: [--no-probe]

- name: Address for a container
  ezlb.ezlb.ezlb:
    command: ipam allocate
    args: [--subnet, 10.1.0.0/24, --owner, web-1]
  register: addr

- name: Use it
  ansible.builtin.debug:
    msg: "web-1 has {{ addr.result.address }}"

- name: A bridge with a subnet and MASQUERADE
  ezlb.ezlb.ezlb:
    command: bridge create
    args: [ezbr0, --subnet, 10.88.0.0/24]

- name: The kernel's IPVS table (read-only; runs in check mode too)
  ezlb.ezlb.ezlb:
    command: ipvs show
  register: ipvs

- name: IPsec between managed pods, with a longer lock wait
  ezlb.ezlb.ezlb:
    command: xfrm sync
    config: /etc/ezlb/ipsec.yaml
    environment:
      EZLB_LOCK_TIMEOUT: "120"

- name: Remove everything ezlb created in IPVS (does not read the config)
  ezlb.ezlb.ezlb:
    command: ipvs cleanup
"""

RETURN = r"""
result:
  description:
    - ezlb's JSON result, parsed. It always has C(command), C(changed),
      C(dry_run), C(actions), C(errors) and C(warnings); commands add their own
      keys (C(services) for C(ipvs show), C(address) for C(ipam allocate),
      C(checks) for C(doctor) ...).
    - Each action has C(text) (the line the text output prints), C(done),
      and on failure C(error).
  returned: when ezlb printed a JSON result (every run except a usage error)
  type: dict
  sample:
    command: ipvs apply
    changed: true
    dry_run: false
    actions:
      - action: add
        object: service
        service: tcp 10.0.0.1:80
        text: "+ service tcp 10.0.0.1:80 wrr"
        done: true
    errors: []
    warnings: []
rc:
  description: ezlb's exit status (0 success, 1 runtime failure, 64 usage error,
    69 no free address, 75 lock held by another run, 78 invalid config or state).
  returned: when ezlb ran
  type: int
  sample: 0
stderr:
  description: ezlb's log lines and warnings.
  returned: when ezlb ran
  type: str
  sample: ""
stdout:
  description: ezlb's standard output, when it was not a JSON result.
  returned: when the output was not JSON
  type: str
cmd:
  description: The argument list that was run.
  returned: always
  type: list
  elements: str
  sample: [/usr/local/sbin/ezlb, ipvs, apply, -o, json, -c, /etc/ezlb/ezlb.yaml]
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

# Commands that read only: run as they are in check mode.
READ_ONLY = frozenset([
    ("ipvs", "plan"),
    ("ipvs", "show"),
    ("ipvs", "health"),
    ("snat", "show"),
    ("xfrm", "show"),
    ("ipam", "list"),
    ("bridge", "list"),
])

# Commands that may change something: run with --dry-run in check mode.
MUTATING = frozenset([
    ("ipvs", "apply"),
    ("ipvs", "cleanup"),
    ("snat", "sync"),
    ("snat", "cleanup"),
    ("xfrm", "sync"),
    ("xfrm", "cleanup"),
    ("ipam", "allocate"),
    ("ipam", "release"),
    ("bridge", "create"),
    ("bridge", "delete"),
    ("bridge", "connect"),
    ("bridge", "disconnect"),
    ("doctor",),  # changes sysctls with --fix
])

ALLOWED = READ_ONLY | MUTATING

# Flags the module sets itself (or that would break the JSON contract).
RESERVED_LONG = {
    "--output": "the module always passes -o json",
    "--dry-run": "use check mode",
    "--quiet": "it would suppress the JSON result",
    "--detailed-exitcode": "changed comes from the JSON result",
    "--config": "use the config option",
    "--state-dir": "use the state_dir option",
    "--backend": "use the backend option",
}
RESERVED_SHORT = {
    "o": "--output",
    "q": "--quiet",
    "c": "--config",
}


def parse_command(module, raw):
    if isinstance(raw, (list, tuple)):
        words = [to_native(w).strip() for w in raw]
    elif isinstance(raw, str):
        words = raw.split()
    else:
        module.fail_json(msg="command must be a string or a list of words, got %s" % type(raw).__name__)
    words = [w for w in words if w]
    if words and words[0] == "ezlb":
        words = words[1:]
    allowed = ", ".join(sorted(" ".join(c) for c in ALLOWED))
    for n in (2, 1):
        if tuple(words[:n]) in ALLOWED:
            if len(words) > n:
                module.fail_json(
                    msg="command %r: put %r in args (command is the subcommand only)"
                    % (" ".join(words), " ".join(words[n:])))
            return tuple(words[:n])
    module.fail_json(msg="unsupported ezlb command %r; supported: %s" % (" ".join(words), allowed))


def check_args(module, args):
    for a in args:
        if a.startswith("--"):
            name = a.split("=", 1)[0]
            if name in RESERVED_LONG:
                module.fail_json(msg="args must not contain %s: %s" % (name, RESERVED_LONG[name]))
        elif len(a) > 1 and a[0] == "-" and a[1].isalpha():
            # -o, -ojson, -q, -c PATH, clusters such as -vq
            letters = a[1:] if a[1:].isalpha() else a[1]
            for letter, long_name in RESERVED_SHORT.items():
                if letter in letters:
                    module.fail_json(msg="args must not contain %s (%s): %s"
                                     % (a, long_name, RESERVED_LONG[long_name]))


def resolve_binary(module, binary):
    if os.sep in binary:
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            module.fail_json(msg="ezlb binary %s is not an executable file" % binary, cmd=[binary])
        return binary
    return module.get_bin_path(binary, required=True)


def error_message(result, stderr, rc):
    """The ezlb error line(s) for msg."""
    errors = []
    if isinstance(result, dict):
        errors = [to_native(e) for e in (result.get("errors") or [])]
    if errors:
        return "; ".join(errors)
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    error_lines = [ln for ln in lines if ln.startswith("ezlb: error:")]
    if error_lines:
        return "; ".join(error_lines)
    if lines:
        return lines[-1]
    return "ezlb exited with status %d" % rc


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(type="raw", required=True),
            config=dict(type="path"),
            state_dir=dict(type="path"),
            backend=dict(type="str", choices=["kernel", "fake"]),
            args=dict(type="list", elements="str", default=[]),
            binary=dict(type="str", default="ezlb"),
            environment=dict(type="dict", aliases=["env"]),
        ),
        supports_check_mode=True,
    )
    p = module.params

    command = parse_command(module, p["command"])
    args = [to_native(a) for a in (p["args"] or [])]
    check_args(module, args)
    binary = resolve_binary(module, p["binary"])

    cmd = [binary] + list(command) + ["-o", "json"]
    if p["config"] is not None:
        cmd += ["-c", p["config"]]
    if p["state_dir"] is not None:
        cmd += ["--state-dir", p["state_dir"]]
    if p["backend"] is not None:
        cmd += ["--backend", p["backend"]]
    if module.check_mode and command in MUTATING:
        cmd.append("--dry-run")
    cmd += args

    environ = None
    if p["environment"]:
        environ = dict((to_native(k), to_native(v)) for k, v in p["environment"].items())

    rc, stdout, stderr = module.run_command(cmd, environ_update=environ, check_rc=False)

    ret = dict(cmd=cmd, rc=rc, stderr=stderr)
    result = None
    text = (stdout or "").strip()
    if text:
        try:
            result = json.loads(text)
        except ValueError:
            result = None
    if isinstance(result, dict):
        ret["result"] = result
    else:
        ret["stdout"] = stdout

    changed = bool(result.get("changed")) if isinstance(result, dict) else False
    errors = result.get("errors") if isinstance(result, dict) else None

    if rc != 0 or errors:
        module.fail_json(msg=error_message(result, stderr, rc), changed=changed, **ret)
    if not isinstance(result, dict):
        module.fail_json(msg="ezlb exited 0 but printed no JSON result", changed=False, **ret)

    for w in result.get("warnings") or []:
        module.warn("ezlb: %s" % to_native(w))

    module.exit_json(changed=changed, **ret)


if __name__ == "__main__":
    main()
