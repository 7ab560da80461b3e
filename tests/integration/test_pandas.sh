#!/usr/bin/env bash
# pandas (Debian's, /usr/bin/python3) writing and reading CSV and JSON in a
# branch view, then reading the committed data through the commit view.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain analytics
mesh_mount
B=$MNT/analytics/main

"$PY" -c 'import pandas' || fail "/usr/bin/python3 has no pandas (apt-get install python3-pandas)"

note "pandas writes CSV and JSON into the branch and reads back equal frames"
mesh_py "$B" <<'PYEOF' || fail "pandas round trip in the branch view failed"
import os, sys
import pandas as pd

b = sys.argv[1]
n = 200_000
df = pd.DataFrame({
    "order_id": range(n),
    "region": [("north", "south", "east", "west")[i % 4] for i in range(n)],
    "amount": [i * 0.25 for i in range(n)],
    "day": ["2026-11-%02d" % (1 + i % 30) for i in range(n)],
})
os.makedirs(f"{b}/orders/2026/11")
df.to_csv(f"{b}/orders/2026/11/part-0.csv", index=False)
df.head(1000).to_json(f"{b}/orders/2026/11/part-0.json", orient="records", lines=True)
df.groupby("region", as_index=False)["amount"].sum().to_json(f"{b}/summary.json", orient="records")

back = pd.read_csv(f"{b}/orders/2026/11/part-0.csv")
pd.testing.assert_frame_equal(df, back)
pd.testing.assert_frame_equal(df.head(1000), pd.read_json(f"{b}/orders/2026/11/part-0.json", lines=True, dtype=False))
chunks = list(pd.read_csv(f"{b}/orders/2026/11/part-0.csv", chunksize=30_000))
pd.testing.assert_frame_equal(df, pd.concat(chunks, ignore_index=True))

# Rewrite the file in place and append to it, as notebooks do.
df.head(10).to_csv(f"{b}/orders/2026/11/small.csv", index=False)
df.iloc[10:20].to_csv(f"{b}/orders/2026/11/small.csv", mode="a", header=False, index=False)
pd.testing.assert_frame_equal(df.head(20), pd.read_csv(f"{b}/orders/2026/11/small.csv"))
df.to_pickle(f"{b}/frame.pkl")
pd.testing.assert_frame_equal(df, pd.read_pickle(f"{b}/frame.pkl"))
print("pandas round trip ok:", len(back), "rows")
PYEOF

c=$(mesh_commit analytics/main "pandas output")

note "overwrite in the branch after the commit"
mesh_py "$B" <<'PYEOF' || fail "pandas overwrite after commit failed"
import sys
import pandas as pd
b = sys.argv[1]
pd.DataFrame({"order_id": [1], "region": ["x"], "amount": [0.5], "day": ["2026-12-01"]}).to_csv(
    f"{b}/orders/2026/11/part-0.csv", index=False)
assert len(pd.read_csv(f"{b}/orders/2026/11/part-0.csv")) == 1
PYEOF
mesh_commit analytics/main "overwrite" >/dev/null

note "read the first commit through its id, a prefix and main~1"
mesh_py "$MNT/analytics/$c" "$MNT/analytics/${c:0:8}" "$MNT/analytics/main~1" <<'PYEOF' || fail "reading through the commit view failed"
import sys
import pandas as pd

n = 200_000
df = pd.DataFrame({
    "order_id": range(n),
    "region": [("north", "south", "east", "west")[i % 4] for i in range(n)],
    "amount": [i * 0.25 for i in range(n)],
    "day": ["2026-11-%02d" % (1 + i % 30) for i in range(n)],
})
for view in sys.argv[1:]:
    pd.testing.assert_frame_equal(df, pd.read_csv(f"{view}/orders/2026/11/part-0.csv"))
    pd.testing.assert_frame_equal(df.head(1000), pd.read_json(f"{view}/orders/2026/11/part-0.json", lines=True, dtype=False))
    summary = pd.read_json(f"{view}/summary.json", orient="records")
    assert sorted(summary["region"]) == ["east", "north", "south", "west"], summary
    assert abs(summary["amount"].sum() - df["amount"].sum()) < 1e-6, summary
    pd.testing.assert_frame_equal(df, pd.read_pickle(f"{view}/frame.pkl"))
    print("commit view ok:", view)
PYEOF

note "after a remount too"
mesh_remount
mesh_py "$MNT/analytics/$c" "$B" <<'PYEOF' || fail "reading after remount failed"
import sys
import pandas as pd
view, branch = sys.argv[1:]
assert len(pd.read_csv(f"{view}/orders/2026/11/part-0.csv")) == 200_000
assert len(pd.read_csv(f"{branch}/orders/2026/11/part-0.csv")) == 1
assert len(pd.read_csv(f"{branch}/orders/2026/11/small.csv")) == 20
PYEOF
exit 0
