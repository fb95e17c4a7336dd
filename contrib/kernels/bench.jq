# The summary of one kernel's benchmark boot (run.sh --bench), from its
# console (jq -R -n): each PODPROF-BENCH line of /init is one run of
# BenchmarkOpenClose in one mode. Per mode: the medians over the rounds of
# the ns per open()+close() pair, of what the tracer adds to them (each
# round's difference, taken within one run), and that added cost relative
# to tracepoint mode's in the same boot: TCG's absolute times say little
# about real hardware, the ratio between modes more.
#
# --arg kernel KVER --arg package PKG=VERSION --arg modes "lsm fentry tracepoint"
# --argjson rounds N --argjson pairs N --arg icount QEMU_ICOUNT --argjson qemu_wall_s S

def median:
	sort
	| if length == 0 then null
	elif length % 2 == 1 then .[(length - 1) / 2]
	else (.[length / 2 - 1] + .[length / 2]) / 2 end;

def spread: {median: median, min: min, max: max, samples: .};

def num: tonumber? // null;

# ratio(A; B): A / B, or null where B is not a cost (noise can make a
# difference zero or negative)
def ratio($a; $b): if $a == null or $b == null or $b <= 0 then null else $a / $b end;

# "PODPROF-BENCH round=1 mode=lsm ... reason=text with spaces"
def run:
	(capture(" reason=(?<r>.*)$").r // "") as $reason
	| sub(" reason=.*$"; "") | sub("^PODPROF-BENCH +"; "")
	| [splits(" +") | capture("^(?<key>[a-z_]+)=(?<value>.*)$")] | from_entries
	| {
		round: (.round | num), mode, status, rc: (.rc | num), secs: (.secs | num),
		host_no_tracer_ns: (.host_none | num),
		container_untraced_ns: (.container_untraced | num),
		container_traced_ns: (.container_traced | num),
		host_tracer_loaded_ns: (.host_loaded | num),
		reason: $reason
	};

[inputs] as $console
| [$console[] | select(startswith("PODPROF-BENCH ")) | run] as $runs
| [($modes | split(" "))[] as $m
	| [$runs[] | select(.mode == $m)] as $all
	| [$all[] | select(.status == "PASS")] as $ok
	| {
		mode: $m,
		runs: ($all | length),
		passed: ($ok | length),
		secs: ([$all[].secs // 0] | add // 0 | . * 10 | round / 10),
		container_untraced_ns: ([$ok[].container_untraced_ns] | median),
		container_traced_ns: ([$ok[].container_traced_ns] | median),
		host_no_tracer_ns: ([$ok[].host_no_tracer_ns] | median),
		host_tracer_loaded_ns: ([$ok[].host_tracer_loaded_ns] | median),
		container_added_ns: ([$ok[] | .container_traced_ns - .container_untraced_ns] | spread),
		host_added_ns: ([$ok[] | .host_tracer_loaded_ns - .host_no_tracer_ns] | spread)
	}] as $modes_sum
| (first($modes_sum[] | select(.mode == "tracepoint")) // null) as $tp
| {
	kernel: $kernel,
	package: $package,
	rounds: $rounds,
	pairs: $pairs,
	icount: $icount,
	qemu_wall_s: $qemu_wall_s,
	# all rounds in the guest: "PODPROF-BENCH-DONE rounds=5 benchtime=20000x secs=S"
	bench_s: (first($console[] | select(startswith("PODPROF-BENCH-DONE ")) | capture(" secs=(?<s>[0-9.]+)").s | num) // null),
	modes: [$modes_sum[] | . + {
		container_vs_tracepoint: ratio(.container_added_ns.median; $tp.container_added_ns.median),
		host_vs_tracepoint: ratio(.host_added_ns.median; $tp.host_added_ns.median)
	}],
	runs: $runs
}
