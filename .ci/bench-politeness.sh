#!/usr/bin/env bash
# bench-politeness.sh - what the per-host limits cost a cold poll of many
# feeds on ONE host (the feed farm on 127.0.0.1, the worst case for them).
# For each [poll] setting below it runs a cold `storyfeed poll` into an empty
# database (dedupe on, durable commits), then a re-poll (all 304), and prints
# wall time, the poll's CPU time (user + system, less sensitive to other
# processes' load than wall time), items/s and the counts the farm saw. Settings are compared in
# one run, so the machine's load affects them alike; `uptime` is printed.
# Opt-in (minutes at 1000 feeds); not part of .ci/run.
#
#   FEEDS=1000 ITEMS=50 PORT=18600 bash .ci/bench-politeness.sh
#   SETTINGS='per_host = 4|per_host = 0' ... to choose the settings compared
#   BASELINE=main SETTINGS='per_host = 4|base workers = 16' ... to compare with
#     another revision: a setting that starts with "base " runs its build
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${FEEDS:-1000} ITEMS=${ITEMS:-50} PORT=${PORT:-18600}
SETTINGS=${SETTINGS:-'per_host = 4|per_host = 0|per_host = 1'}
OUT=$(mktemp -d)
trap 'kill $FARM_PID 2>/dev/null || true; rm -rf "$OUT"' EXIT
FARM=../shared/tools/feedfarm
(cd "$FARM" && go build -o "$OUT/feedfarm" .)
go build -o "$OUT/storyfeed" ./cmd/storyfeed
if [ -n "${BASELINE:-}" ]; then # a git revision to compare with: a setting "base ..." runs it
	mkdir "$OUT/base"
	git archive "$BASELINE" | tar -x -C "$OUT/base"
	(cd "$OUT/base" && go build -o "$OUT/storyfeed-base" ./cmd/storyfeed)
fi
"$OUT/feedfarm" -port "$PORT" -feeds "$FEEDS" -items "$ITEMS" -churn 0 >"$OUT/farm.log" 2>&1 &
FARM_PID=$!
until curl -sf "http://127.0.0.1:$PORT/stats" >/dev/null; do
	kill -0 $FARM_PID || { cat "$OUT/farm.log"; exit 1; }
	sleep 0.2
done
stats() { curl -sf "http://127.0.0.1:$PORT/stats?reset=1" | tr -d '\n ' | grep -o '"status_\(200\|304\)":[0-9]*' | tr '\n' ' '; }
echo "feeds=$FEEDS items=$ITEMS; $(uptime)"
IFS='|' read -ra settings <<<"$SETTINGS"
for s in "${settings[@]}"; do
	bin="$OUT/storyfeed"
	if [ "${s#base }" != "$s" ]; then
		bin="$OUT/storyfeed-base"
	fi
	rm -f "$OUT/farm.db"
	{
		printf '[storage]\npath = "%s/farm.db"\n[poll]\nallow_private_networks = true\n%s\n' "$OUT" "${s#base }"
		for ((i = 0; i < FEEDS; i++)); do
			printf '[[source]]\nname = "f%d"\nurl = "http://127.0.0.1:%d/f/%d.xml"\n' "$i" "$PORT" "$i"
		done
	} >"$OUT/farm.toml"
	stats >/dev/null
	for cycle in cold repoll; do
		start=$(date +%s.%N)
		/usr/bin/time -f "cpu %U %S" -o "$OUT/time" "$bin" poll --config "$OUT/farm.toml" 2>"$OUT/poll.log" || { tail "$OUT/poll.log"; exit 1; }
		end=$(date +%s.%N)
		items=$(grep -o 'items_new=[0-9]*' "$OUT/poll.log" | tail -1 | cut -d= -f2)
		read -r _ user sys <"$OUT/time"
		awk -v s="$s" -v c="$cycle" -v a="$start" -v b="$end" -v n="${items:-0}" -v u="$user" -v y="$sys" -v st="$(stats)" \
			'BEGIN { w = b - a; printf "%-16s %-6s %6.2f s wall %6.2f s cpu  %6d items  %7.0f items/s  farm: %s\n", s, c, w, u + y, n, n / w, st }'
	done
done
