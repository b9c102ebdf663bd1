#!/usr/bin/env python3
"""Where the instructions a change adds per request go, function by function.

    callgrind-breakdown.py BASE TARGET N1 N2 [TOP]

BASE and TARGET are path prefixes of callgrind runs kept by scripts/callgrind.sh: BASE-N1 and
BASE-N2 are folders of per-thread profiles of the same server answering N1 and N2 requests, and
so are TARGET-N1 and TARGET-N2. A function's own instructions per request are the difference of
its totals between the two runs over N2 - N1, start-up and shutdown cancelled out as in the
script's totals; printed are the TOP functions (default 30) whose own instructions grow most from
BASE to TARGET, then the few that shrink most. Needs callgrind_annotate (valgrind).
"""

import collections
import glob
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+) \([^)]*\)\s+(.*)$")


def own_costs(folder):
    """Own (self) instructions per function over every profile in `folder`."""
    costs = collections.Counter()
    for profile in glob.glob(folder + "/cg-*"):
        out = subprocess.run(
            ["callgrind_annotate", "--threshold=100", profile],
            capture_output=True, text=True, check=True,
        ).stdout
        for line in out.splitlines():
            match = LINE.match(line)
            if not match or "PROGRAM TOTALS" in line:
                continue
            # "file:function [object]": the function is what identifies a cost here.
            name = match.group(2).split(" [")[0].split(":", 1)[-1]
            costs[name] += int(match.group(1).replace(",", ""))
    return costs


def per_request(prefix, n1, n2):
    low, high = own_costs(f"{prefix}-{n1}"), own_costs(f"{prefix}-{n2}")
    return {name: (high[name] - low[name]) / (n2 - n1) for name in set(low) | set(high)}


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    base, target, n1, n2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    top = int(sys.argv[5]) if len(sys.argv) == 6 else 30
    before, after = per_request(base, n1, n2), per_request(target, n1, n2)
    grown = sorted(
        ((after.get(f, 0) - before.get(f, 0), f) for f in set(before) | set(after)),
        reverse=True,
    )
    print(f"own instructions per request, {target} over {base}:")
    for delta, name in grown[:top]:
        print(f"{delta:+8.0f}  {name[:150]}")
    print("shrunk most:")
    for delta, name in sorted(grown)[:5]:
        print(f"{delta:+8.0f}  {name[:150]}")


if __name__ == "__main__":
    main()
