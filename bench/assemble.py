#!/usr/bin/env python3
"""Assembles BENCHMARKS.md from the reports `nno-operator bench` wrote to bench/reports/.

The targets table is computed from each report's JSON; the reports follow verbatim (with the command
that produced each). Run from the repository root after the scenarios: python3 bench/assemble.py
"""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
REPORTS = ROOT / "bench" / "reports"
SCENARIOS = [
    ("vm-1000", "1,000 VMs, 100 ms create latency, 2 s provision delay"),
    ("mixed-100", "Idle cost at N=100 (six kinds)"),
    ("mixed-5000", "5,000 objects of six kinds (idle cost at N=5,000, peak RSS)"),
    ("fault-500", "Fault soak: 500 objects + 20 Pax8 orders, 10% 5xx, 5% lost replies, 5% 429"),
    ("crash-300", "Crash soak: 300 objects, operator SIGKILLed every 5 s"),
]


def load(name):
    p = REPORTS / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def verdict(ok):
    return "met" if ok else "**missed**"


def all_pass(r):
    return all(i["pass"] for i in r["invariants"])


def main():
    r = {name: load(name) for name, _ in SCENARIOS}
    rows = []
    v = r["vm-1000"]
    if v:
        c = v["convergence"]
        rows.append((
            "1,000 VMs: all Ready within 1.25x the floor",
            f"{c['time_to_ready_s']:.1f} s vs floor {c['floor_s']:.1f} s = {c['vs_floor']:.2f}x",
            verdict(c["vs_floor"] is not None and c["vs_floor"] <= 1.25),
        ))
        rows.append((
            "1,000 VMs: at most 3 cloud calls per object on the happy path",
            f"{c['calls_per_object']:.2f}",
            verdict(c["calls_per_object"] <= 3),
        ))
        w = v["wake_latency"]
        rows.append((
            "p99 watch→reconcile latency at 1,000 idle objects ≤ 100 ms",
            f"p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms ({w['observed']} changes)",
            verdict(w["p99_ms"] is not None and w["p99_ms"] <= 100),
        ))
    small, big = r["mixed-100"], r["mixed-5000"]
    if small and big:
        a, b = small["idle"], big["idle"]
        rows.append((
            "idle calls per poll interval = (kind, location) pairs, same at N=100 and N=5,000",
            f"N=100: {a['calls_per_interval']:.2f}, N=5,000: {b['calls_per_interval']:.2f} (pairs: {a['kind_location_pairs']})",
            verdict(abs(a["calls_per_interval"] - a["kind_location_pairs"]) < 0.5
                    and abs(b["calls_per_interval"] - b["kind_location_pairs"]) < 0.5),
        ))
        d = big.get("drift") or {}
        rows.append((
            "drift made in the simulator seen within one poll interval",
            f"corrected after {d.get('corrected_after_s') or float('nan'):.2f} s (interval {d.get('poll_interval_s')} s)",
            verdict((d.get("corrected_after_s") or 1e9) <= (d.get("poll_interval_s") or 0)),
        ))
    if big:
        m = big["resources"]["operator_peak_rss_mib"]
        rows.append(("operator peak RSS at 5,000 objects ≤ 100 MiB", f"{m:.1f} MiB", verdict(m <= 100)))
    for name, what in [("fault-500", "fault soak: all invariants PASS"), ("crash-300", "crash soak: all invariants PASS")]:
        x = r[name]
        if x:
            extra = f", {x['resources']['operator_kills']} kills" if x["resources"]["operator_kills"] else ""
            rows.append((what, f"{sum(i['pass'] for i in x['invariants'])}/{len(x['invariants'])} PASS{extra}", verdict(all_pass(x))))

    machine = next(x for x in r.values() if x)["machine"]
    out = ["# Benchmarks", ""]
    out.append(
        "Produced by `nno-operator bench` (see README, \"Performance\"): the devcluster and the operator run as "
        "processes of their own (the operator can be SIGKILLed and restarted), the three simulators in the bench "
        "process with the latency and faults given; the bench creates the objects, waits for all Ready, idles, "
        "renames a VM behind the operator's back, touches every object to time watch→reconcile, deletes "
        "everything, and checks the invariants. Every figure below comes from the report files in "
        "`bench/reports/` (Markdown and JSON); `python3 bench/assemble.py` rebuilds this page from them."
    )
    out.append("")
    out.append(
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gib']:.1f} GiB, "
        f"Linux {machine['kernel']}; a shared VM, release build."
    )
    out.append("")
    out.append("## Targets")
    out.append("")
    out.append("| target | measured | |")
    out.append("|---|---|---|")
    for t, m, ok in rows:
        out.append(f"| {t} | {m} | {ok} |")
    out.append("")
    notes = (ROOT / "bench" / "notes.md")
    if notes.exists():
        out.append(notes.read_text().rstrip())
        out.append("")
    out.append("## Reports")
    out.append("")
    for name, what in SCENARIOS:
        md = REPORTS / f"{name}.md"
        if not md.exists():
            continue
        out.append(f"## {what}")
        out.append("")
        out.append(md.read_text().replace("### ", "#### ", 1).rstrip())
        out.append("")
    (ROOT / "BENCHMARKS.md").write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
