#!/usr/bin/env python3
"""Summaries and the report of bench/run and bench/auth-flood.

  report.py pgbench OUTPUT LOGDIR JSON   pgbench output + per-transaction logs -> summary
  report.py render RUNDIR RESULTSDIR [NAME]  run's summaries -> NAME.md, NAME.png, NAME.json
                                          (NAME: latest; durable for BENCH_DURABLE=1;
                                          logging for BENCH_LOGGING=1)
  report.py flood RUNDIR RESULTSDIR      auth-flood summaries -> auth-flood.md
  report.py layers RUNDIR OUT COMMIT NOTE CASE...  bench/flames' profiles -> OUT (markdown)

Summaries have wrk's shape (bench/wrk/load.lua): requests, rps, p50_us, p99_us, errors.
"""

import glob
import json
import os
import re
import statistics
import sys

CASES = {
    "a": ("GET /v1/packages?country=FR", "baseline axum server"),
    "b": ("GET /v1/countries", "baseline axum server"),
    "c": ("GET /v1/balance", "baseline axum server"),
    "d": ("POST /v1/order, random partners", "pgbench debit tx, random accounts"),
    "e": ("POST /v1/order, one hot partner", "pgbench debit tx, one account"),
}
# Minimum throughput ratio and maximum p99 (ms) per case, logging off (the bench's
# default, `RUST_LOG=warn`).
TARGETS = {
    "a": (0.6, 5.0),
    "b": (0.6, 5.0),
    "c": (0.35, None),
    "d": (0.6, None),
    "e": (1.5, None),
}
# With the default logging an operator runs (JSON lines at info), the catalog cases may
# pay for their log line: (a) and (b) aim at half the baseline.
LOGGING_TARGETS = dict(TARGETS, a=(0.5, 5.0), b=(0.5, 5.0))
# With durability on, the order path's batched statements should ride PostgreSQL's group
# commit: (d) aims at pgbench's durable random-account rate.
DURABLE_TARGETS = dict(TARGETS, d=(1.0, None))


def targets_of(meta):
    targets = DURABLE_TARGETS if meta.get("durable") else TARGETS
    if meta.get("logging"):
        targets = dict(targets, a=LOGGING_TARGETS["a"], b=LOGGING_TARGETS["b"])
    return targets


RSS_LIMIT_MB = 200
READY_LIMIT_MS = 1000


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    k = (len(sorted_values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def pgbench(output, logdir, out):
    text = open(output).read()
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
    processed = re.search(r"number of transactions actually processed: (\d+)", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    aborted = len(re.findall(r"client \d+ aborted", text))
    if not tps or not processed:
        sys.exit(f"cannot read pgbench output {output}:\n{text}")
    latencies = []
    for path in glob.glob(os.path.join(logdir, "pgbench_log.*")):
        with open(path) as f:
            for line in f:
                fields = line.split()
                # client_id transaction_no time_us script_no time_epoch time_us [lag]
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]))
    latencies.sort()
    summary = {
        "requests": int(processed.group(1)),
        "rps": float(tps.group(1)),
        "p50_us": round(percentile(latencies, 50)),
        "p90_us": round(percentile(latencies, 90)),
        "p99_us": round(percentile(latencies, 99)),
        "p999_us": round(percentile(latencies, 99.9)),
        "max_us": latencies[-1] if latencies else 0,
        "mean_us": round(statistics.fmean(latencies), 1) if latencies else 0,
        "errors": {"failed": int(failed.group(1)) if failed else 0, "aborted_clients": aborted},
    }
    json.dump(summary, open(out, "w"))


def load(rundir, pattern):
    runs = {}
    for path in sorted(glob.glob(os.path.join(rundir, pattern))):
        name = os.path.basename(path)[: -len(".json")]
        runs[name] = json.load(open(path))
    return runs


def errors(summary):
    return sum(summary.get("errors", {}).values())


def median_of(summaries, key):
    return statistics.median(s[key] for s in summaries)


def ms(us):
    return f"{us / 1000:.2f}"


def aggregate(rundir):
    meta = json.load(open(os.path.join(rundir, "meta.json")))
    runs = load(rundir, "[a-e]-*-[0-9]*.json")
    cases = {}
    for case in CASES:
        sides = {}
        for side in ("gateway", "baseline", "db", "plain"):
            rounds = [runs[k] for k in sorted(runs) if k.startswith(f"{case}-{side}-")]
            if not rounds:
                continue
            sides[side] = {
                "rounds": rounds,
                "rps": median_of(rounds, "rps"),
                "p50_us": median_of(rounds, "p50_us"),
                "p99_us": median_of(rounds, "p99_us"),
                "errors": sum(errors(r) for r in rounds),
                "requests": sum(r["requests"] for r in rounds),
            }
        if "gateway" in sides and "baseline" in sides:
            g, b = sides["gateway"], sides["baseline"]
            g["ratio"] = g["rps"] / b["rps"] if b["rps"] else 0
            g["round_ratios"] = [
                gr["rps"] / br["rps"] if br["rps"] else 0
                for gr, br in zip(g["rounds"], b["rounds"])
            ]
            cpu = [r.get("gateway_cpu_s") for r in g["rounds"] if r.get("gateway_cpu_s")]
            if cpu:
                # Gateway CPU per request, microseconds (all rounds).
                g["cpu_us_per_req"] = sum(cpu) * 1e6 / g["requests"]
            cases[case] = sides
    return meta, cases


def verdicts(meta, cases):
    out = []
    for case, sides in cases.items():
        g = sides["gateway"]
        min_ratio, max_p99 = targets_of(meta)[case]
        ok = g["ratio"] >= min_ratio
        why = [f"ratio {g['ratio']:.2f} {'≥' if ok else '<'} {min_ratio}"]
        if max_p99 is not None:
            p99_ok = g["p99_us"] / 1000 <= max_p99
            ok = ok and p99_ok
            why.append(f"p99 {ms(g['p99_us'])} ms {'≤' if p99_ok else '>'} {max_p99} ms")
        err_ok = g["errors"] == 0 and sides["baseline"]["errors"] == 0
        ok = ok and err_ok
        why.append(f"{g['errors']} non-2xx/errors")
        out.append((f"({case}) {CASES[case][0]}", ok, ", ".join(why)))
    rss_mb = meta["gateway_peak_rss_kb"] / 1024
    out.append(("peak server RSS", rss_mb <= RSS_LIMIT_MB, f"{rss_mb:.1f} MB (limit {RSS_LIMIT_MB} MB)"))
    ready = meta["ready_ms"]
    worst = max(ready)
    out.append(
        (
            "start to /readyz 200",
            worst <= READY_LIMIT_MS,
            f"{statistics.median(ready):.0f} ms median, {worst} ms worst of {len(ready)} starts (limit {READY_LIMIT_MS} ms)",
        )
    )
    out.append(("tavaro ledger verify", meta["ledger_verify_ok"], meta["ledger_verify"].splitlines()[-1] if meta["ledger_verify"] else ""))
    return out


def chart(meta, cases, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    short = {"a": "packages FR", "b": "countries", "c": "balance", "d": "orders,\nrandom partners", "e": "orders,\nhot partner"}
    labels = [f"({c}) {short[c]}" for c in cases]
    x = range(len(labels))
    w = 0.38
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.6))
    g_rps = [cases[c]["gateway"]["rps"] for c in cases]
    b_rps = [cases[c]["baseline"]["rps"] for c in cases]
    ax = axes[0]
    ax.bar([i - w / 2 for i in x], g_rps, w, label="gateway", color="#2f6fb3")
    ax.bar([i + w / 2 for i in x], b_rps, w, label="baseline (axum / pgbench)", color="#b0b0b0")
    ax.set_yscale("log")
    ax.set_ylim(bottom=min(g_rps + b_rps) / 3)
    ax.set_title("Throughput (req/s or tx/s, median of rounds)")
    ax.set_xticks(list(x), labels, fontsize=7)
    ax.legend(fontsize=8)
    for i, v in enumerate(g_rps):
        ax.text(i - w / 2, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=7)
    for i, v in enumerate(b_rps):
        ax.text(i + w / 2, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=7)

    ax = axes[1]
    ratios = [cases[c]["gateway"]["ratio"] for c in cases]
    targets = [targets_of(meta)[c][0] for c in cases]
    colors = ["#3a9a4a" if r >= t else "#c8423b" for r, t in zip(ratios, targets)]
    ax.bar(list(x), ratios, 0.6, color=colors)
    ax.scatter(list(x), targets, marker="_", s=900, color="black", label="target", zorder=3)
    for i, r in enumerate(ratios):
        ax.text(i, r, f"{r:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_title("Gateway / baseline throughput (green: throughput target met)")
    ax.set_xticks(list(x), labels, fontsize=7)
    ax.legend(fontsize=8)

    ax = axes[2]
    g_p50 = [cases[c]["gateway"]["p50_us"] / 1000 for c in cases]
    g_p99 = [cases[c]["gateway"]["p99_us"] / 1000 for c in cases]
    b_p99 = [cases[c]["baseline"]["p99_us"] / 1000 for c in cases]
    w3 = 0.27
    ax.bar([i - w3 for i in x], g_p50, w3, label="gateway p50", color="#8db5df")
    ax.bar(list(x), g_p99, w3, label="gateway p99", color="#2f6fb3")
    ax.bar([i + w3 for i in x], b_p99, w3, label="baseline p99", color="#b0b0b0")
    ax.axhline(5, color="black", linestyle="--", linewidth=0.8, label="5 ms (target for a, b)")
    ax.set_yscale("log")
    ax.set_ylim(bottom=min(g_p50 + g_p99 + b_p99 + [5]) / 3)
    ax.set_ylabel("ms")
    ax.set_title("Latency at 64 connections")
    ax.set_xticks(list(x), labels, fontsize=7)
    ax.legend(fontsize=7)

    fig.suptitle(
        f"Tavaro gateway vs machine limits — {meta['date']} — {meta['cores']} cores, "
        f"{meta['connections']} connections, {meta['duration_s']} s × {meta['rounds']} rounds — "
        f"peak server RSS {meta['gateway_peak_rss_kb'] / 1024:.0f} MB",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def render(rundir, results, report="latest"):
    meta, cases = aggregate(rundir)
    durable = meta.get("durable", False)
    logging = meta.get("logging", False)
    os.makedirs(results, exist_ok=True)
    checks = verdicts(meta, cases)
    lines = [
        "# Benchmark: the gateway against the machine's own limits"
        + (", durability on" if durable else "")
        + (", default logging (JSON lines at info)" if logging else ""),
        "",
        f"Generated by `bench/run` on {meta['date']} at commit `{meta['commit']}`: "
        f"{meta['cores']} cores ({meta['cpu']}), load average {meta['load_start']} before "
        f"the rounds and {meta['load_end']} after; {meta['postgres']}, {meta['wrk']}; "
        f"{meta['versions'].strip()}.",
        "",
        f"{meta['connections']} connections ({meta['threads']} wrk threads / pgbench jobs), "
        f"{meta['duration_s']} s a case, {meta['rounds']} rounds, medians. The gateway and its "
        f"baseline run one after the other inside each round, on the same machine as the load "
        + (
            "generator and PostgreSQL (durable: fsync and synchronous_commit on, as `make run`'s "
            "cluster and production, for both sides, so pgbench pays the same price per commit; "
            if durable
            else "generator and PostgreSQL (fsync and synchronous_commit off, as the project's test "
            "cluster; "
        )
        + f"memory and WAL sized for a run's data, for both sides: "
        f"{meta.get('pg_settings', 'settings not recorded')}). {meta['partners']} partners; GET cases rotate over their keys; orders buy "
        f"`{meta['plan']}` (${meta['plan_cents'] / 100:.2f}) with a distinct Idempotency-Key each. "
        f"wrk's latencies are per request as its clients see them; pgbench's are its per-transaction "
        f"times (`-l` log), which exclude time a client waits for pgbench's own thread.",
        "",
        f"![chart]({report}.png)",
        "",
        "| case | gateway req/s | p50 ms | p99 ms | baseline | baseline req/s | p50 ms | p99 ms | ratio | target | |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for case, sides in cases.items():
        g, b = sides["gateway"], sides["baseline"]
        min_ratio, max_p99 = targets_of(meta)[case]
        target = f"≥ {min_ratio}×" + (f", p99 ≤ {max_p99:g} ms" if max_p99 else "")
        ok = next(v for name, v, _ in checks if name.startswith(f"({case})"))
        lines.append(
            f"| ({case}) {CASES[case][0]} | {g['rps']:,.0f} | {ms(g['p50_us'])} | {ms(g['p99_us'])} "
            f"| {CASES[case][1]} | {b['rps']:,.0f} | {ms(b['p50_us'])} | {ms(b['p99_us'])} "
            f"| **{g['ratio']:.2f}** | {target} | {'pass' if ok else '**FAIL**'} |"
        )
    plain = cases.get("a", {}).get("plain")
    if plain and "baseline" in cases["a"]:
        b = cases["a"]["baseline"]
        lines += [
            "",
            f"Requests carry `Accept-Encoding: gzip`, as partners' HTTP clients send it (the "
            f"baseline ignores it); the gateway answers the catalog gzip-compressed. For "
            f"reference, (a) asked without it (the ~49 KB JSON as is): {plain['rps']:,.0f} req/s, p50 {ms(plain['p50_us'])} ms, p99 "
            f"{ms(plain['p99_us'])} ms: **{plain['rps'] / b['rps']:.2f}×** the baseline.",
        ]
    db = cases.get("c", {}).get("db")
    if db:
        g = cases["c"]["gateway"]
        lines += [
            "",
            f"For reference, (c) against Postgres alone: pgbench running the gateway's balance "
            f"query (64 clients, prepared, random accounts) makes {db['rps']:,.0f} queries/s "
            f"(p50 {ms(db['p50_us'])} ms, p99 {ms(db['p99_us'])} ms); the gateway, over HTTP and "
            f"authenticated, serves **{g['rps'] / db['rps']:.2f}×** that.",
        ]
    lines += [
        "",
        f"Peak server RSS (VmHWM after every case): **{meta['gateway_peak_rss_kb'] / 1024:.1f} MB** "
        f"(baseline server: {meta['baseline_peak_rss_kb'] / 1024:.1f} MB). "
        f"Start to first `/readyz` 200, demo catalog: {', '.join(str(r) for r in meta['ready_ms'])} ms "
        f"over {len(meta['ready_ms'])} starts.",
        "",
        "## Targets",
        "",
        "| check | | measured |",
        "|---|---|---|",
    ]
    for name, ok, why in checks:
        lines.append(f"| {name} | {'pass' if ok else '**FAIL**'} | {why} |")
    lines += [
        "",
        f"Orders after the run, by status: `{json.dumps(meta['orders_by_status'])}`.",
        "",
        "## Every round",
        "",
        "| case | round | gateway req/s | p50 ms | p99 ms | non-2xx / errors | baseline req/s | p50 ms | p99 ms | ratio | gateway CPU µs/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, sides in cases.items():
        g, b = sides["gateway"], sides["baseline"]
        for i, (gr, br) in enumerate(zip(g["rounds"], b["rounds"]), 1):
            cpu = gr.get("gateway_cpu_s")
            cpu_us = f"{cpu * 1e6 / gr['requests']:.0f}" if cpu and gr["requests"] else ""
            lines.append(
                f"| ({case}) | {i} | {gr['rps']:,.0f} | {ms(gr['p50_us'])} | {ms(gr['p99_us'])} "
                f"| {errors(gr)} / {errors(br)} | {br['rps']:,.0f} | {ms(br['p50_us'])} | {ms(br['p99_us'])} "
                f"| {gr['rps'] / br['rps']:.2f} | {cpu_us} |"
            )
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "changes.md")
    if os.path.exists(notes):
        lines += ["", open(notes).read().rstrip()]
    lines.append("")
    open(os.path.join(results, f"{report}.md"), "w").write("\n".join(lines))
    raw = {"meta": meta, "cases": {c: {s: {k: v for k, v in d.items()} for s, d in sides.items()} for c, sides in cases.items()}}
    json.dump(raw, open(os.path.join(results, f"{report}.json"), "w"), indent=1)
    chart(meta, cases, os.path.join(results, f"{report}.png"))
    print("\n".join(lines[: 13 + len(cases)]))
    for name, ok, why in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {why}")


def flood(rundir, results):
    meta = json.load(open(os.path.join(rundir, "meta.json")))
    runs = load(rundir, "*.json")
    lines = [
        "# Auth flood: a valid partner under a flood of bogus keys",
        "",
        f"Generated by `bench/auth-flood` on {meta['date']} at commit `{meta['commit']}`, "
        f"{meta['cores']} cores. A valid partner calls `GET /v1/balance` on "
        f"{meta['valid_connections']} connections, each pausing {meta['valid_delay_ms']} ms "
        f"between requests, for {meta['duration_s']} s, {meta['rounds']} rounds (medians); "
        f"alone, then while wrk sends well-formed keys that pass their checksum but are bogus "
        f"at a target {meta['flood_rate']} req/s ({meta['flood_connections']} connections, "
        f"{meta['flood_delay_ms']} ms apart). Every flood request carries a key never sent "
        f"before, so no cache answers it.",
        "",
        "| flood | flood req/s sent | flood refused (401/429) | valid req/s | valid p50 ms | valid p99 ms | unloaded p99 ms | p99 ratio | valid non-2xx | target (ratio < 2) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    verdict = True
    for mode, label in (("unknown", "unknown key ids"), ("wrong-secret", "real key id, wrong secret")):
        quiet = [runs[k] for k in sorted(runs) if k.startswith(f"{mode}-quiet-")]
        loaded = [runs[k] for k in sorted(runs) if k.startswith(f"{mode}-valid-")]
        flood_runs = [runs[k] for k in sorted(runs) if k.startswith(f"{mode}-flood-")]
        if not quiet or not loaded:
            continue
        q99 = median_of(quiet, "p99_us")
        l99 = median_of(loaded, "p99_us")
        ratio = l99 / q99 if q99 else float("inf")
        errs = sum(errors(r) for r in loaded) + sum(errors(r) for r in quiet)
        flood_401 = sum(r["errors"]["status"] for r in flood_runs)
        ok = ratio < 2 and errs == 0
        verdict = verdict and ok
        lines.append(
            f"| {label} | {median_of(flood_runs, 'rps'):,.0f} | {flood_401} | {median_of(loaded, 'rps'):,.0f} "
            f"| {ms(median_of(loaded, 'p50_us'))} | **{ms(l99)}** | **{ms(q99)}** | **{ratio:.2f}** | {errs} "
            f"| {'pass' if ok else '**FAIL**'} |"
        )
    lines += ["", "## Every round", "", "| flood | round | unloaded p99 ms | loaded p99 ms | flood req/s |", "|---|---:|---:|---:|---:|"]
    for mode in ("unknown", "wrong-secret"):
        for i in range(1, meta["rounds"] + 1):
            q, l, f = (runs.get(f"{mode}-{k}-{i}") for k in ("quiet", "valid", "flood"))
            if q and l and f:
                lines.append(f"| {mode} | {i} | {ms(q['p99_us'])} | {ms(l['p99_us'])} | {f['rps']:,.0f} |")
    metrics = meta.get("metrics", "").strip()
    if metrics:
        lines += ["", "Gateway counters after the run:", "", "```text", metrics, "```"]
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "auth-flood-notes.md")
    if os.path.exists(notes):
        lines += ["", open(notes).read().rstrip()]
    lines.append("")
    open(os.path.join(results, "auth-flood.md"), "w").write("\n".join(lines))
    print("\n".join(lines[6:10]))
    return verdict


# The layer a sampled frame belongs to, by the crate its symbol names (the innermost
# frame of a sample: where the CPU was). Kernel frames carry inferno's `_[k]` suffix.
LAYER_OF_CRATE = {
    "hyper": "hyper + httparse", "httparse": "hyper + httparse", "hyper_util": "hyper + httparse",
    "h2": "hyper + httparse",
    "axum": "axum + tower", "axum_core": "axum + tower", "tower": "axum + tower",
    "tower_http": "axum + tower", "tower_layer": "axum + tower", "tower_service": "axum + tower",
    "matchit": "axum + tower", "utoipa_axum": "axum + tower",
    "tokio": "tokio + mio", "mio": "tokio + mio",
    "http": "http, bytes (headers, bodies)", "bytes": "http, bytes (headers, bodies)",
    "http_body": "http, bytes (headers, bodies)", "http_body_util": "http, bytes (headers, bodies)",
    "tavaro": "tavaro (ours)",
    "sqlx_core": "sqlx (Postgres protocol, pool)", "sqlx_postgres": "sqlx (Postgres protocol, pool)",
    "moka": "moka (key cache)", "crossbeam_channel": "moka (key cache)",
    "crossbeam_epoch": "moka (key cache)", "crossbeam_utils": "moka (key cache)",
    "tagptr": "moka (key cache)",
    "metrics": "metrics", "metrics_util": "metrics", "metrics_exporter_prometheus": "metrics",
    "tracing": "tracing (spans, log lines)", "tracing_core": "tracing (spans, log lines)",
    "tracing_subscriber": "tracing (spans, log lines)", "json_subscriber": "tracing (spans, log lines)",
    "tracing_appender": "tracing (spans, log lines)", "tracing_serde": "tracing (spans, log lines)",
    "serde": "serde, serde_json", "serde_json": "serde, serde_json",
    "core": "core, alloc, std (memcpy, fmt, str)", "alloc": "core, alloc, std (memcpy, fmt, str)",
    "std": "core, alloc, std (memcpy, fmt, str)",
    "governor": "governor (rate limits)", "dashmap": "governor (rate limits)",
    "sha2": "sha2 (the key's SHA-256)",
    "flate2": "gzip", "miniz_oxide": "gzip",
    "foldhash": "hashing", "hashbrown": "hashing",
    "uuid": "uuid", "chrono": "time", "time": "time",
    "mimalloc": "mimalloc (allocator)", "libmimalloc_sys": "mimalloc (allocator)",
}

# Inclusive: the share of samples with such a frame anywhere in their stack (a frame
# matching the first pattern and not the second: tracing's `Instrumented` wrapper holds
# every future run in a span, and is not the span's cost).
INCLUSIVE = [
    ("hyper's connection (parse, write, the service call)", r"^hyper::proto::h1::dispatch", None),
    ("the envelope middleware and everything under it", r"tavaro::http::Envelope", None),
    ("the API key check (verifier, key cache, SHA-256)", r"^(<)?(tavaro::auth::|moka::|sha2::)", None),
    ("the partner rate limit", r"tavaro::http::rate_limit::|^(<)?governor::", None),
    ("metrics recording", r"^(<)?(tavaro::metrics::|metrics::|metrics_util::)", None),
    ("tracing (span, log line)",
     r"^(<)?(tracing|tracing_core|tracing_subscriber|tracing_appender|json_subscriber)::",
     r"Instrumented|instrument::"),
    ("the catalog handlers and answer cache", r"tavaro::http::catalog", None),
    ("the order workflow", r"^(<)?tavaro::orders::", None),
    ("sqlx (statements, pool, protocol)", r"^(<)?sqlx_(core|postgres)::", None),
    ("the allocator (mimalloc)", r"^(mi_|_mi_)|mimalloc", None),
    ("the kernel (loopback TCP, epoll, scheduling)", r"_\[k\]$", None),
]


def layer_of(frame):
    if frame.endswith("_[k]"):
        return "kernel (loopback TCP, epoll, scheduling)"
    if frame.startswith(("mi_", "_mi_")) or "mimalloc" in frame:
        return "mimalloc (allocator)"
    name = frame.lstrip("<&*").replace("mut ", "").replace("dyn ", "")
    crate = re.split(r"::|<| |\[|\(", name, maxsplit=1)[0]
    if crate in LAYER_OF_CRATE:
        return LAYER_OF_CRATE[crate]
    if len(crate) == 1:
        return "generic closures and futures (F, T, ...)"
    if frame.startswith("__") or frame in ("[unknown]",) or frame.startswith("["):
        return "libc, unknown"
    return "other: " + crate if crate else "libc, unknown"


def layers(rundir, out, commit, note, *cases):
    selves, inclusive, cost = {}, {}, {}
    patterns = [(label, re.compile(p), re.compile(x) if x else None) for label, p, x in INCLUSIVE]
    for case in cases:
        counts, incl, total = {}, {label: 0 for label, _, _ in INCLUSIVE}, 0
        for line in open(os.path.join(rundir, f"collapsed-{case}.txt")):
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack or not n.isdigit():
                continue
            n = int(n)
            total += n
            frames = stack.split(";")
            leaf = frames[-1]
            layer = layer_of(leaf)
            counts[layer] = counts.get(layer, 0) + n
            for label, pattern, unless in patterns:
                if pattern.search(leaf) or any(
                    pattern.search(f) and not (unless and unless.search(f)) for f in frames
                ):
                    incl[label] += n
        selves[case] = {k: v / total for k, v in counts.items()} if total else {}
        inclusive[case] = {k: v / total for k, v in incl.items()} if total else {}
        summary = json.load(open(os.path.join(rundir, f"load-{case}.json")))
        before, after = (float(x) for x in open(os.path.join(rundir, f"cpu-{case}.txt")).read().split())
        cost[case] = (after - before) * 1e6 / max(summary["requests"], 1)
    names = {k: CASES[k][0] if k in CASES else "baseline server, any GET" for k in cases}

    def row(label, shares):
        """A table row: each case's share of samples and the µs a request it stands for."""
        cells = [f"{share * 100:.1f}% · {share * cost[c]:.1f} µs" for c, share in zip(cases, shares)]
        return f"| {label} | " + " | ".join(cells) + " |"

    suffix = "-logging" if note else ""
    graphs = ", ".join(f"[({k})](flame-{k}{suffix}.svg)" for k in cases)
    lines = [
        f"# Where the gateway's CPU goes, by layer{' (' + note + ')' if note else ''}",
        "",
        f"Generated by `bench/flames` at commit `{commit}`: for each case, 5 s of the gateway "
        "sampled by `perf record --call-graph dwarf` (499 Hz) under bench/run's load (wrk, "
        f"64 connections). Flame graphs: {graphs}. "
        "µs are the gateway's CPU per request over the whole load (user + system, from "
        "/proc), split by the share of samples; a share is of the gateway's samples only "
        "(wrk and Postgres run beside it on the same cores).",
        "",
        "## Self time: the innermost frame's layer",
        "",
        "| layer | " + " | ".join(f"({k}) {names[k]}" for k in cases) + " |",
        "|---|" + "---:|" * len(cases),
    ]
    everything = sorted({l for c in cases for l in selves[c]},
                        key=lambda l: (-max(selves[c].get(l, 0) for c in cases), l))
    for layer in everything:
        if max(selves[c].get(layer, 0) for c in cases) < 0.005:
            continue
        lines.append(row(layer, [selves[c].get(layer, 0) for c in cases]))
    lines.append("| **gateway CPU per request** | " + " | ".join(f"**{cost[c]:.1f} µs**" for c in cases) + " |")
    lines += [
        "",
        "## Inclusive: samples with the layer anywhere in their stack",
        "",
        "| under | " + " | ".join(f"({k})" for k in cases) + " |",
        "|---|" + "---:|" * len(cases),
    ]
    for label, _, _ in INCLUSIVE:
        lines.append(row(label, [inclusive[c][label] for c in cases]))
    lines.append("")
    open(out, "w").write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "pgbench" and len(sys.argv) == 5:
        pgbench(*sys.argv[2:])
    elif command == "render" and len(sys.argv) in (4, 5):
        render(*sys.argv[2:])
    elif command == "layers" and len(sys.argv) >= 7:
        layers(*sys.argv[2:])
    elif command == "flood" and len(sys.argv) == 4:
        sys.exit(0 if flood(*sys.argv[2:]) else 1)
    else:
        sys.exit(__doc__)
