#!/usr/bin/env python3
"""Runs the README's walk-through as written and checks every output it shows.

Extracts the shell block under "## The code flow with curl" and the REST API block that continues
it (the one that sets PASSWORD), runs them in one bash shell with `set -euo pipefail`, stops the
server the walk-through started, and checks that each `# {...}` comment (an output the README
shows) matches what the commands printed, in order (`…` stands for any text).

Usage, from the repository's root, with a release build and nothing listening on 127.0.0.1:8080:

    cargo build --release && python3 docs/check_readme.py
"""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blocks(text):
    """Every ```sh block with the heading above it."""
    heading = ""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line
        if line.strip() == "```sh":
            body = []
            i += 1
            while lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            out.append((heading, "\n".join(body)))
        i += 1
    return out


def main():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    found = blocks(readme)
    walk = [b for h, b in found if h == "## The code flow with curl"]
    rest = [b for h, b in found if b.startswith("PASSWORD=")]
    if len(walk) != 1 or len(rest) != 1:
        sys.exit("README: cannot find the walk-through and the REST block")
    script = "set -euo pipefail\n" + walk[0] + "\n" + rest[0] + "\n"
    expected = [
        line[2:]
        for line in (walk[0] + "\n" + rest[0]).splitlines()
        if line.startswith("# {")
    ]
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, "target", "release") + os.pathsep + env["PATH"]
    for name in list(env):
        if name.startswith("LATCHKEY_"):
            del env[name]
    script += "kill $SERVER\nwait $SERVER || true\necho; echo \"WORKDIR=$PWD\"\n"
    with tempfile.TemporaryDirectory() as start:
        run = subprocess.run(
            ["bash", "-c", script],
            cwd=start,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    print(run.stdout)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        sys.exit(f"the walk-through failed (exit {run.returncode})")
    workdir = re.search(r"WORKDIR=(.*)", run.stdout).group(1)
    position = 0
    for shown in expected:
        pattern = ".*?".join(re.escape(part) for part in shown.split("…"))
        match = re.compile(pattern).search(run.stdout, position)
        if not match:
            sys.exit(f"not printed (after offset {position}): {shown}")
        position = match.end()
    leftovers = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    if any(name in leftovers for name in ("app.json", "jar", "token.json")):
        sys.exit(f"the walk-through left files in the repository:\n{leftovers}")
    subprocess.run(["rm", "-rf", workdir], check=False)
    print(f"ok: {len(expected)} outputs as shown; nothing left in the repository")


if __name__ == "__main__":
    main()
