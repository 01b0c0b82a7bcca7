"""Turn ``results.json`` into ``RESULTS.md`` (targets as measured ratios) and ``chart.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CONCURRENCIES = (8, 16, 32, 64, 128)
LATENCIES_MS = (5, 20, 50)


def _m(entry: dict[str, Any]) -> float:
    return float(entry["median"])


def _fmt(entry: dict[str, Any], digits: int = 0) -> str:
    return f"{entry['median']:,.{digits}f} ({entry['min']:,.{digits}f}-{entry['max']:,.{digits}f})"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the benchmark issue with its measured figure and verdict."""
    rows: list[dict[str, Any]] = []
    per = results["per_request_cpu_us"]
    for op in ("get", "post"):
        ratio = _m(per[f"{op}/sdk"]) / _m(per[f"{op}/raw"])
        rows.append(
            {
                "target": f"per-request client CPU, sequential {op.upper()}: SDK <= 1.15x raw",
                "measured": f"{ratio:.2f}x ({_m(per[f'{op}/sdk']):.0f} vs "
                f"{_m(per[f'{op}/raw']):.0f} us)",
                "met": ratio <= 1.15,
            }
        )
    stream = results["streaming"]
    small, big = (
        results["meta"]["settings"]["stream_small"],
        results["meta"]["settings"]["stream_big"],
    )
    for size in (small, big):
        ratio = _m(stream[f"sdk/{size}"]["items_per_s"]) / _m(stream[f"raw/{size}"]["items_per_s"])
        rows.append(
            {
                "target": f"streaming {size:,} viewables: SDK items/s >= 0.9x raw",
                "measured": f"{ratio:.2f}x",
                "met": ratio >= 0.9,
            }
        )
    growth = _m(stream[f"sdk/{big}"]["peak_rss_mb"]) - _m(stream[f"sdk/{small}"]["peak_rss_mb"])
    rows.append(
        {
            "target": f"peak RSS growth from {small:,} to {big:,} viewables <= 5 MB",
            "measured": f"{growth:+.1f} MB",
            "met": growth <= 5,
        }
    )
    ceiling = min(_m(c["requests_per_s"]) for c in results["fanout_ceiling"].values())
    fan = results["fanout"]
    worst: tuple[float, int, int] = (float("inf"), 0, 0)
    for latency in LATENCIES_MS:
        for concurrency in CONCURRENCIES:
            if concurrency > 64:
                continue
            limit = min(concurrency / (latency / 1000), ceiling)
            share = _m(fan[f"sdk/{concurrency}/{latency}"]["requests_per_s"]) / limit
            if share < worst[0]:
                worst = (share, concurrency, latency)
    share, c, lat = worst
    limit = min(c / (lat / 1000), ceiling)
    raw = _m(fan[f"raw/{c}/{lat}"]["requests_per_s"])
    sdk = _m(fan[f"sdk/{c}/{lat}"]["requests_per_s"])
    rows.append(
        {
            "target": "fan-out >= 85 % of min(concurrency / latency, CPU ceiling), c <= 64",
            "measured": f"worst {100 * share:.0f} % (c={c}, {lat} ms; ceiling {ceiling:,.0f}/s)",
            "met": share >= 0.85,
            "reason": (
                f"at c={c} and {lat} ms raw aiohttp reaches {100 * raw / limit:.0f} % in the "
                f"same run ({raw:,.0f}/s against the SDK's {sdk:,.0f}/s): each request really "
                f"takes {1000 * c / raw:.1f} ms, the injected {lat} ms plus the sandbox's own "
                "service time and the loopback round trip (a Python server on the other core), "
                "so Little's law with the injected latency overstates what any client can reach"
            ),
        }
    )
    ratio = _m(stream[f"sdk/{small}"]["items_per_s"]) / _m(
        stream[f"httpx_pydantic/{small}"]["items_per_s"]
    )
    rows.append(
        {
            "target": "streaming vs httpx + pydantic: >= 3.5x items/s",
            "measured": f"{ratio:.1f}x",
            "met": ratio >= 3.5,
        }
    )
    worst_fan = min(
        _m(fan[f"sdk/{c}/{lat}"]["requests_per_s"])
        / _m(fan[f"httpx_pydantic/{c}/{lat}"]["requests_per_s"])
        for c in CONCURRENCIES
        if c >= 32
        for lat in LATENCIES_MS
    )
    worst_key = min(
        ((c, lat) for c in CONCURRENCIES if c >= 32 for lat in LATENCIES_MS),
        key=lambda k: (
            _m(fan[f"sdk/{k[0]}/{k[1]}"]["requests_per_s"])
            / _m(fan[f"httpx_pydantic/{k[0]}/{k[1]}"]["requests_per_s"])
        ),
    )
    wc, wl = worst_key
    httpx_rate = _m(fan[f"httpx_pydantic/{wc}/{wl}"]["requests_per_s"])
    rows.append(
        {
            "target": "fan-out vs httpx + pydantic: >= 5x throughput at concurrency >= 32",
            "measured": f"worst {worst_fan:.1f}x (c={wc}, {wl} ms)",
            "met": worst_fan >= 5,
            "reason": (
                f"at c={wc} and {wl} ms both clients are bound by Little's law "
                f"({wc / (wl / 1000):,.0f}/s): httpx + pydantic reaches {httpx_rate:,.0f}/s, "
                f"so 5x would need {5 * httpx_rate:,.0f}/s, above the limit; everywhere else "
                "at concurrency >= 32 the ratio is in the table below"
            ),
        }
    )
    rows += rate_limited_targets(results.get("rate_limited"))
    lag = results["cold_start"]["max_loop_lag_ms"]
    rows.append(
        {
            "target": "cold start (4096-bit key load + first signing): loop lag <= 5 ms",
            "measured": f"{_m(lag):.1f} ms (worst {lag['max']:.1f})",
            "met": lag["max"] <= 5,
        }
    )
    return rows


def rate_limited_targets(grid: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The targets of the rate-limited grid (``bulk_rate_limited.py``), each over every cell."""
    if not grid or "cells" not in grid:
        return []
    cells = grid["cells"]

    def name(cell: dict[str, Any]) -> str:
        return f"{cell['rate_limit']}/s c={cell['concurrency']} Retry-After {cell['retry_after']}"

    low = [c for c in cells if c["sdk"]["goodput"] < 0.95]
    worst = min(cells, key=lambda c: c["sdk"]["goodput"])
    share = max(c["sdk"]["throttled_share"] for c in cells)
    failed = sum(c["sdk"]["failed"] for c in cells)
    behind = [c for c in cells if c["sdk"]["goodput"] <= c["naive"]["goodput"]]
    more_429 = [c for c in cells if c["sdk"]["throttled_share"] >= c["naive"]["throttled_share"]]
    bound = [c for c in low if c["limit"] < c["rate_limit"]]
    paused = [c for c in low if c["retry_after"] == "1" and c not in bound]
    other = [c for c in low if c not in paused and c not in bound]
    low_reason = (
        f"{len(paused)} of the cells below it answer `Retry-After: 1` "
        f"({min(c['sdk']['goodput'] for c in paused):.2f}-"
        f"{max(c['sdk']['goodput'] for c in paused):.2f}, the pool held "
        f"{min(c['sdk']['paused_s'] for c in paused):.0f}-"
        f"{max(c['sdk']['paused_s'] for c in paused):.0f} s): every fresh 429 holds the whole "
        "pool for a second, as the issue asks, and the first cannot be avoided (nothing is "
        "known of the limit before it)"
        if paused
        else ""
    )
    if bound:
        low_reason += (
            f"; {len(bound)} are bound by concurrency (no 429 at all; the naive loop reaches "
            f"{min(c['naive']['goodput'] for c in bound):.2f}-"
            f"{max(c['naive']['goodput'] for c in bound):.2f} there: the unloaded round trip "
            "overstates what 8 workers get)"
        )
    if other:
        low_reason += "; " + ", ".join(f"{name(c)} {c['sdk']['goodput']:.3f}" for c in other)
    rows = [
        {
            "target": "rate-limited grid: SDK goodput >= 0.95x the cell's limit in every cell",
            "measured": f"worst {worst['sdk']['goodput']:.3f} ({name(worst)}); "
            f"{len(cells) - len(low)} of {len(cells)} cells met",
            "met": not low,
            "reason": low_reason,
        },
        {
            "target": "rate-limited grid: 0 rows failed (SDK)",
            "measured": str(failed),
            "met": failed == 0,
        },
        {
            "target": "rate-limited grid: at most 5 % of requests answered 429 (SDK)",
            "measured": f"worst {share:.1%}",
            "met": share <= 0.05,
        },
        {
            "target": "rate-limited grid: SDK goodput above the naive loop's in every cell",
            "measured": f"{len(cells) - len(behind)} of {len(cells)} cells",
            "met": not behind,
            "reason": "behind it in "
            + ", ".join(
                f"{name(c)} ({c['sdk']['goodput']:.3f} vs {c['naive']['goodput']:.3f}, naive "
                f"{c['naive']['throttled_share']:.0%} refused)"
                for c in behind
            )
            + ": at low concurrency a loop that ignores `Retry-After` and keeps its requests "
            "refused keeps the bucket empty, which the SDK's 3 % headroom and pauses do not",
        },
        {
            "target": "rate-limited grid: SDK 429 share below the naive loop's in every cell",
            "measured": f"{len(cells) - len(more_429)} of {len(cells)} cells",
            "met": not more_429,
            "reason": "the others: "
            + ", ".join(
                f"{name(c)} (SDK {c['sdk']['throttled_share']:.1%}, naive "
                f"{c['naive']['throttled_share']:.1%})"
                for c in more_429
            ),
        },
    ]
    base = grid.get("baseline")
    if base:
        rows.append(
            {
                "target": f"fan-out with no rate limit within 5 % of {base['rev']} (same run)",
                "measured": f"{base['ratio']:.3f}x",
                "met": base["ratio"] >= 0.95,
                "reason": "the bulk engine with its flow controller against the engine of "
                f"{base['rev']} (AIMD window), alternating runs: "
                + "; ".join(
                    f"{k} {', '.join(f'{v:,.0f}' for v in vs)}"
                    for k, vs in base["requests_per_s"].items()
                )
                + " requests/s; the runs of each vary by up to 7 %",
            }
        )
    return rows


def write_report(results: dict[str, Any], out: Path) -> None:
    meta = results["meta"]
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['machine']}; {meta['pinning']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- Command: `{meta['command']}` ({meta['reps']} repetitions, {meta['elapsed_s']:.0f} s)",
        "- Figures: median (min-max) over the repetitions; every scenario in a fresh process.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    rows = targets(results)
    for row in rows:
        lines.append(f"| {row['target']} | {row['measured']} | {'yes' if row['met'] else 'no'} |")
    missed = [row for row in rows if not row["met"]]
    if missed:
        lines += ["", "Where a target is missed:", ""]
        for row in missed:
            reason = row.get("reason") or "see the tables below; no structural bound identified"
            lines.append(f"- {row['target']}: {reason}.")
    lines += ["", "## Per-request client CPU (us per request, sequential, cached JWT)", ""]
    lines += ["| client | GET viewable | POST users/lookup |", "| --- | --- | --- |"]
    per = results["per_request_cpu_us"]
    for client in ("sdk", "raw", "httpx_msgspec", "httpx_pydantic"):
        lines.append(f"| {client} | {_fmt(per[f'get/{client}'])} | {_fmt(per[f'post/{client}'])} |")
    lines += ["", "## Streaming (items/s; peak RSS of the client process)", ""]
    lines += [
        "| client | viewables | items/s | peak RSS MB | CPU s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, entry in results["streaming"].items():
        client, size = key.split("/")
        lines.append(
            f"| {client} | {int(size):,} | {_fmt(entry['items_per_s'])} | "
            f"{_fmt(entry['peak_rss_mb'], 1)} | {_fmt(entry['cpu_s'], 2)} |"
        )
    lines += ["", "## Fan-out of entitlement writes (requests/s)", ""]
    ceiling = results["fanout_ceiling"]
    lines.append(
        "CPU ceiling (no added latency, c=64): "
        + ", ".join(f"{k} {_fmt(v['requests_per_s'])}" for k, v in ceiling.items())
    )
    lines += [
        "",
        "| latency | concurrency | limit | sdk | raw | httpx_pydantic |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    floor = min(_m(c["requests_per_s"]) for c in ceiling.values())
    fan = results["fanout"]
    for latency in LATENCIES_MS:
        for concurrency in CONCURRENCIES:
            limit = min(concurrency / (latency / 1000), floor)
            cells = []
            for client in ("sdk", "raw", "httpx_pydantic"):
                entry = fan.get(f"{client}/{concurrency}/{latency}")
                cells.append(_fmt(entry["requests_per_s"]) if entry else "-")
            lines.append(
                f"| {latency} ms | {concurrency} | {limit:,.0f} | " + " | ".join(cells) + " |"
            )
    cold = results["cold_start"]
    lines += [
        "",
        "## Cold start",
        "",
        f"Client creation to first response with a {cold['key_bits']}-bit key: "
        f"{_fmt(cold['first_response_ms'], 1)} ms; longest event-loop stall "
        f"{_fmt(cold['max_loop_lag_ms'], 2)} ms.",
    ]
    grid = results.get("rate_limited")
    if grid and "cells" in grid:
        from bulk_rate_limited import table

        lines += [
            "",
            "## Bulk entitlements against a rate-limited platform",
            "",
            f"`{grid.get('command', 'python benchmarks/bulk_rate_limited.py')}` "
            f"({grid['wall_s'] / 60:.0f} min): a token bucket per credential (burst "
            f"{grid['burst']}), {grid['latency_ms']:.0f} ms of latency, "
            f"{grid['seconds_per_cell']:.0f} s of work per cell at its limit (the lower of the "
            f"rate and concurrency / the unloaded round trip, {grid['round_trip_ms']:.1f} ms); "
            "goodput is rows done per second over that limit, 429 the share of requests the "
            "sandbox answered 429. The naive loop is aiohttp + tenacity (10 attempts, "
            "exponential full jitter 0.1-10 s, Retry-After not read).",
            "",
            *table(grid),
        ]
        base = grid.get("baseline")
        if base:
            lines += [
                "",
                f"Fan-out with no rate limit (64 workers, 20 ms): this tree against "
                f"{base['rev']}, alternating: "
                + ", ".join(
                    f"{k} {', '.join(f'{v:,.0f}' for v in vs)} requests/s"
                    for k, vs in base["requests_per_s"].items()
                )
                + f"; ratio of medians {base['ratio']:.3f}.",
            ]
    lines += ["", "![chart](chart.png)", ""]
    (out / "RESULTS.md").write_text("\n".join(lines))
    _chart(results, out / "chart.png")


def _chart(results: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    fan = results["fanout"]
    for latency, axis in zip(LATENCIES_MS, axes, strict=True):
        for client, style in (("sdk", "o-"), ("raw", "s--"), ("httpx_pydantic", "^:")):
            xs = [c for c in CONCURRENCIES if f"{client}/{c}/{latency}" in fan]
            ys = [_m(fan[f"{client}/{c}/{latency}"]["requests_per_s"]) for c in xs]
            axis.plot(xs, ys, style, label=client)
        axis.plot(
            CONCURRENCIES,
            [c / (latency / 1000) for c in CONCURRENCIES],
            color="grey",
            linewidth=0.8,
            label="concurrency / latency",
        )
        axis.set_xscale("log", base=2)
        axis.set_ylim(0, max(max(_m(v["requests_per_s"]) for v in fan.values()) * 1.2, 1))
        axis.set_title(f"fan-out, {latency} ms server latency")
        axis.set_xlabel("concurrency")
        axis.set_ylabel("requests/s")
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    # Re-render RESULTS.md and chart.png from results.json (after merging a new phase).
    here = Path(__file__).parent
    import json
    import sys

    sys.path.insert(0, str(here))
    write_report(json.loads((here / "results.json").read_text()), here)
