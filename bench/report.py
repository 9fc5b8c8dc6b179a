"""The bench's table: medians per app, the issue's ratios against their goals, saved as
Markdown and JSON under bench/results/ (or --out)."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# ratio name -> (goal, True when the goal is a minimum)
GOALS: dict[str, tuple[float, bool]] = {
    "me vs fastapi-users (req/s)": (1.5, True),
    "me vs floor (req/s)": (0.8, True),
    "me vs ceiling (req/s)": (0.7, True),
    "me p99 vs fastapi-users p99": (1.0, False),
    "login vs argon2 bound": (0.95, True),
    "registration vs argon2 bound": (0.95, True),
    "me p99 under login load vs idle": (1.5, False),
    "2 workers vs 1 (req/s)": (0.0, True),
}


@dataclass
class Results:
    """Everything one bench run measured; `runs` holds every wrk run, in the order they ran."""

    started: datetime
    mode: str
    machine: dict[str, Any]
    apps: dict[str, dict[str, str]] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    argon2: dict[str, Any] = field(default_factory=dict)
    login: dict[str, Any] = field(default_factory=dict)
    registration: dict[str, Any] = field(default_factory=dict)
    under_login: dict[str, Any] = field(default_factory=dict)
    soak: dict[str, Any] = field(default_factory=dict)
    # Issue 22's other flows (admin users pages, passkey sign-in, social completion): one row
    # each, `flow` naming it, with the wrk-like numbers (rate, p50_ms, p99_ms, ok, bad).
    flows: list[dict[str, Any]] = field(default_factory=list)

    def medians(self) -> dict[str, dict[str, float]]:
        """Per app: the median over its runs of req/s, p50, p99 and CPU per request."""
        table: dict[str, dict[str, float]] = {}
        for app in self.apps:
            runs = [run for run in self.runs if run["app"] == app]
            if runs:
                table[app] = {
                    key: statistics.median(run[key] for run in runs)
                    for key in ("rate", "p50_ms", "p99_ms", "cpu_ms_per_request")
                }
                table[app]["bad"] = sum(run["bad"] for run in runs)
                table[app]["runs"] = len(runs)
        return table

    def ratios(self) -> dict[str, float]:
        table = self.medians()
        ratios: dict[str, float] = {}

        def ratio(name: str, numerator: float | None, denominator: float | None) -> None:
            if numerator is not None and denominator:
                ratios[name] = numerator / denominator

        def of(app: str, key: str) -> float | None:
            return table.get(app, {}).get(key)

        bound = self.argon2.get("verifies_per_second")
        ratio("me vs fastapi-users (req/s)", of("authql", "rate"), of("fastapi-users", "rate"))
        ratio("me vs floor (req/s)", of("authql", "rate"), of("floor", "rate"))
        ratio("me vs ceiling (req/s)", of("authql", "rate"), of("ceiling", "rate"))
        ratio("me p99 vs fastapi-users p99", of("authql", "p99_ms"), of("fastapi-users", "p99_ms"))
        ratio("login vs argon2 bound", self.login.get("rate"), bound)
        ratio("registration vs argon2 bound", self.registration.get("rate"), bound)
        ratio("me p99 under login load vs idle", self.under_login.get("p99_ms"), of("authql", "p99_ms"))
        ratio("2 workers vs 1 (req/s)", of("authql-2w", "rate"), of("authql", "rate"))
        return ratios

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started.isoformat(),
            "mode": self.mode,
            "machine": self.machine,
            "apps": self.apps,
            "authql_settings": self.settings,
            "medians": self.medians(),
            "ratios": self.ratios(),
            "runs": self.runs,
            "argon2_bound": self.argon2,
            "login": self.login,
            "registration": self.registration,
            "me_under_login_load": self.under_login,
            "soak": self.soak,
            "flows": self.flows,
        }

    def markdown(self) -> str:
        lines = [
            f"# authql bench, {self.started:%Y-%m-%d %H:%M} UTC ({self.mode})",
            "",
            "Machine: " + ", ".join(f"{key} {value}" for key, value in self.machine.items()),
            "",
            "## `me`, one signed-in read (median of the interleaved runs)",
            "",
            "| app | req/s | p50 ms | p99 ms | CPU ms/request | runs | bad answers |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for app, row in self.medians().items():
            lines.append(
                f"| {app} | {row['rate']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
                f"| {row['cpu_ms_per_request']:.2f} | {row['runs']:.0f} | {row['bad']:.0f} |"
            )
        lines += [
            "",
            "## Ratios and goals (issues 10 and 22)",
            "",
            "| ratio | measured | goal | met |",
            "| --- | ---: | --- | --- |",
        ]
        for name, value in self.ratios().items():
            goal, minimum = GOALS[name]
            if goal:
                met = "yes" if (value >= goal if minimum else value <= goal) else "**no**"
                lines.append(f"| {name} | {value:.2f} | {'>=' if minimum else '<='} {goal:g} | {met} |")
            else:
                lines.append(f"| {name} | {value:.2f} | (reported) | |")
        lines += ["", "## Password work", ""]
        if self.argon2:
            lines.append(
                f"- argon2id bound: {self.argon2['verifies_per_second']:.1f} verifies/s "
                f"(t={self.argon2['time_cost']}, {self.argon2['memory_kib']} KiB, "
                f"p={self.argon2['parallelism']}, {self.argon2['threads']} threads)"
            )
        if self.login:
            lines.append(
                f"- login: {self.login['rate']:.1f}/s (p99 {self.login['p99_ms']:.0f} ms, "
                f"{self.login['bad']} not AuthPayload){cpu_spent(self.login, 'login')}"
            )
        if self.registration:
            lines.append(
                f"- registration (four steps): {self.registration['rate']:.1f}/s"
                f"{cpu_spent(self.registration, 'registration')}"
            )
        if self.under_login:
            lines.append(
                f"- `me` while logins saturate the hash pool: {self.under_login['rate']:.0f} req/s, "
                f"p99 {self.under_login['p99_ms']:.1f} ms{loop_cpu(self.under_login)}"
            )
        lines += self.outside_the_hash()
        if self.flows:
            lines += [
                "",
                "## Other flows (issue 22)",
                "",
                "| flow | per s | p50 ms | p99 ms | good | bad answers |",
                "| --- | ---: | ---: | ---: | ---: | ---: |",
            ]
            lines += [
                f"| {row['flow']} | {row['rate']:.1f} | {latency(row, 'p50_ms')} | {latency(row, 'p99_ms')} "
                f"| {row['ok']} | {row['bad']} |"
                for row in self.flows
            ]
        if self.soak:
            lines += ["", "## Soak", "", "```", json.dumps(self.soak, indent=2), "```"]
        lines += ["", "## How each app ran", ""]
        lines += [
            f"- {app}: `{notes['command']}` ({notes['environment']})" for app, notes in self.apps.items()
        ]
        if self.settings:
            shown = ", ".join(f"`{name}={value}`" for name, value in sorted(self.settings.items()))
            lines += ["", f"authql's settings besides the server's defaults: {shown}."]
        return "\n".join(lines) + "\n"

    def outside_the_hash(self) -> list[str]:
        """CPU ms per login and per registration by process, authql's less its one hash."""
        parts = [(name, part) for name, part in (("login", self.login), ("registration", self.registration))]
        parts = [(name, part) for name, part in parts if "authql_outside_hash_ms" in part]
        if not parts:
            return []
        lines = [
            "",
            "CPU ms per operation by process; authql's outside the hash is that of its threads but the "
            f"niced hash pool (one argon2id verify took {self.argon2['cpu_ms_per_verify']:.0f} ms of CPU "
            "in the bound's own run):",
            "",
            "| operation | per s | done | authql | authql outside the hash | nx-27017 | Redis | bench client "
            "| machine busy |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {name} | {part['rate']:.1f} | {part['ok']} | {part['authql_cpu_ms']:.1f} "
            f"| {part['authql_outside_hash_ms']:.1f} | {part.get('mongo_cpu_ms', 0):.1f} "
            f"| {part.get('redis_cpu_ms', 0):.1f} | {part.get('bench_client_cpu_ms', 0):.1f} "
            f"| {part['machine_busy_percent']:.0f} % |"
            for name, part in parts
        ]
        return lines

    def save(self, out_dir: Path, label: str = "") -> Path:
        """bench/results/<UTC date>[-<label>].md and .json (a second run that day with the
        same label replaces the first)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = out_dir / (f"{self.started:%Y-%m-%d}" + (f"-{label}" if label else ""))
        stem.with_suffix(".md").write_text(self.markdown())
        stem.with_suffix(".json").write_text(json.dumps(self.as_dict(), indent=2, default=str) + "\n")
        return stem.with_suffix(".md")


def latency(row: dict[str, Any], key: str) -> str:
    """A percentile in ms, or a dash when nothing was answered in the run (wrk's 0)."""
    return f"{row[key]:.1f}" if row["ok"] or row["bad"] else "-"


def loop_cpu(under_login: dict[str, Any]) -> str:
    """`; event loop CPU per read 1.9 ms (idle just before: 1.5 ms, 600 req/s, p99 90 ms)`."""
    idle = under_login.get("idle_just_before")
    if not idle:
        return ""
    return (
        f"; event loop CPU per read {under_login['loop_cpu_ms_per_request']:.2f} ms (idle just before: "
        f"{idle['loop_cpu_ms_per_request']:.2f} ms, {idle['rate']:.0f} req/s, p99 {idle['p99_ms']:.1f} ms)"
    )


def cpu_spent(part: dict[str, Any], operation: str) -> str:
    """`; CPU per login: authql 310 ms, mongo 5 ms, ...; machine 98% busy`, when measured."""
    spent = [
        f"{name.removesuffix('_cpu_ms')} {value:.0f} ms"
        for name, value in part.items()
        if name.endswith("_cpu_ms")
    ]
    if not spent:
        return ""
    return f"; CPU per {operation}: {', '.join(spent)}; machine {part['machine_busy_percent']:.0f}% busy"


def now() -> datetime:
    return datetime.now(UTC)
