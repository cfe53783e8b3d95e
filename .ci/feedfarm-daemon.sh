#!/usr/bin/env bash
# feedfarm-daemon.sh - the feedfarm quality check through the daemon's own path:
# serve the farm on 127.0.0.1, subscribe storyfeed to every feed, run one
# `storyfeed poll` (HTTP fetch, feed parsing, normalisation, dedupe, bbolt), then
# score `storyfeed stories --json` against the farm's /truth.csv with
# ../shared/eval/score.py. Opt-in (minutes at 1000 feeds); not part of .ci/run.
#
#   FEEDS=1000 ITEMS=50 PORT=18150 bash .ci/feedfarm-daemon.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${FEEDS:-300} ITEMS=${ITEMS:-50} PORT=${PORT:-18150}
OUT=$(mktemp -d)
trap 'kill $FARM_PID 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
echo "work dir: $OUT"
FARM=../shared/tools/feedfarm
(cd "$FARM" && go build -o "$OUT/feedfarm" .)
go build -o "$OUT/storyfeed" ./cmd/storyfeed
"$OUT/feedfarm" -port "$PORT" -feeds "$FEEDS" -items "$ITEMS" -churn 0 >"$OUT/farm.log" 2>&1 &
FARM_PID=$!
until curl -sf "http://127.0.0.1:$PORT/stats" >/dev/null; do
  kill -0 $FARM_PID || { cat "$OUT/farm.log"; exit 1; }
  sleep 0.2
done
{
  printf '[storage]\npath = "%s/farm.db"\n[poll]\nallow_private_networks = true\nworkers = 16\n' "$OUT"
  for ((i = 0; i < FEEDS; i++)); do
    printf '[[source]]\nname = "f%d"\nurl = "http://127.0.0.1:%d/f/%d.xml"\n' "$i" "$PORT" "$i"
  done
} >"$OUT/farm.toml"
curl -sf "http://127.0.0.1:$PORT/truth.csv" >"$OUT/truth.csv"
/usr/bin/time -f "poll: %e s wall, %M KB peak RSS" "$OUT/storyfeed" poll --config "$OUT/farm.toml" 2>"$OUT/poll.log" || { tail "$OUT/poll.log"; exit 1; }
grep "poll:" "$OUT/poll.log"
"$OUT/storyfeed" stories --config "$OUT/farm.toml" --json --limit 10000000 >"$OUT/stories.jsonl"
python3 - "$OUT" <<'PY'
import csv, hashlib, json, sys
out = sys.argv[1]
def item_id(feed, guid):
    return hashlib.sha256(feed.encode() + b"\0" + guid.encode()).hexdigest()[:16]
with open(out + "/truth.jsonl", "w") as t:
    for r in csv.DictReader(open(out + "/truth.csv")):
        story = r["story"] or "u:%s/%s" % (r["feed"], r["seq"])
        t.write(json.dumps({"id": item_id("f" + r["feed"], r["guid"]), "story": story}) + "\n")
with open(out + "/pred.jsonl", "w") as p:
    for line in open(out + "/stories.jsonl"):
        s = json.loads(line)
        for it in s["items"]:
            p.write(json.dumps({"id": it["id"], "story": s["id"]}) + "\n")
PY
python3 ../shared/eval/score.py "$OUT/truth.jsonl" "$OUT/pred.jsonl"
