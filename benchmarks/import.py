"""Customer file imports: rows per second and peak memory for a million-row CSV.

Generates a realistic customer file in a temporary folder (semicolon-separated, Windows-1252,
Spanish headers with accents, phones written in several ways, amounts and dates the Latin
American way, about 1% bad rows: missing or malformed documents, duplicates, bad phones),
then imports it into PostgreSQL (a database created for the run and dropped after) and SQLite
(a file in the temporary folder), each import in a child process so its peak memory is its
own (plus that of the process the import starts to parse a large file, `customers/
parallel.py`, as `centralita customers import` does by default on a machine with two cores:
both are counted, and the peak is the sum of the two peaks). Two imports per database:

- first: the file into an empty campaign (`--mode upsert`): every row inserted;
- again: the same file again with `--mode replace`: every row compared, none written.

    python -m benchmarks.import [--rows 1000000] [--databases postgresql,sqlite]
        [--parsing auto|here|child]   # auto: as the CLI decides; here/child: force one way

Targets (issue 4): ≥ 150,000 rows/s on PostgreSQL and ≥ 80,000 on SQLite for the first
import; peak memory under 200 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from centralita.core.db import make_engine, session_factory
from centralita.core.migrate import upgrade
from centralita.customers.campaigns import create_campaign

TARGET_RATE = {"postgresql": 150_000.0, "sqlite": 80_000.0}  # rows/s, first import
TARGET_PEAK_MB = 200.0
ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
BENCH_DATABASE = "centralita_bench_import"
CAMPAIGN = "cartera"

HEADER = [
    "Cédula",
    "Tipo Documento",
    "Nombre",
    "Celular",
    "Saldo",
    "Fecha Límite",
    "Ciudad",
    "Días Mora",
    "Activo",
    "Producto",
]
FIRST = ["María", "José", "Ángela", "Andrés", "Sofía", "Julián", "Lucía", "Héctor", "Valeria"]
LAST = ["Pérez", "Gómez", "Rodríguez", "Martínez", "Muñoz", "López", "Díaz", "Sánchez"]
CITIES = ["Bogotá", "Medellín", "Cali", "Barranquilla", "Cúcuta", "Ibagué", "Popayán"]
PRODUCTS = ["Tarjeta de crédito", "Libranza", "Crédito de vehículo", "Microcrédito"]


def generate(path: Path, rows: int, seed: int = 4) -> dict[str, int]:
    """Write the file; return how many rows of each bad kind it has."""
    rng = random.Random(seed)
    bad = {"no_document": 0, "bad_document": 0, "duplicate": 0, "bad_phone": 0}
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write(";".join(HEADER) + "\r\n")
        lines = []
        for i in range(rows):
            number = 10_000_000 + i * 7
            roll = rng.random()
            if roll < 0.003:
                document, bad["no_document"] = "", bad["no_document"] + 1
            elif roll < 0.006:
                document, bad["bad_document"] = "N/A", bad["bad_document"] + 1
            elif roll < 0.008 and i > 10:
                document, bad["duplicate"] = (
                    f"{10_000_000 + (i - 5) * 7:,}".replace(",", "."),
                    (bad["duplicate"] + 1),
                )
            else:
                document = f"{number:,}".replace(",", ".") if roll < 0.5 else str(number)
            mobile = 3_000_000_000 + rng.randrange(50_000_000)
            style = rng.random()
            if style < 0.01:
                phone, bad["bad_phone"] = "123", bad["bad_phone"] + 1
            elif style < 0.55:
                phone = str(mobile)
            elif style < 0.75:
                text = str(mobile)
                phone = f"+57 {text[:3]} {text[3:6]} {text[6:]}"
            elif style < 0.9:
                phone = f"57{mobile}"
            elif style < 0.95:
                phone = f"601{rng.randrange(2_000_000, 8_000_000)}"
            else:
                phone = ""
            balance = rng.randrange(50_000, 50_000_000)
            amount = (
                f"{balance:,}".replace(",", ".")
                if rng.random() < 0.6
                else f"{balance},{rng.randrange(100):02d}"
            )
            lines.append(
                ";".join(
                    [
                        document,
                        "CC" if rng.random() < 0.95 else "CE",
                        f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}",
                        phone,
                        amount,
                        f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/2026",
                        rng.choice(CITIES),
                        str(rng.randrange(0, 720)),
                        "Sí" if rng.random() < 0.8 else "No",
                        rng.choice(PRODUCTS),
                    ]
                )
            )
            if len(lines) == 10_000:
                out.write("\r\n".join(lines) + "\r\n")
                lines.clear()
        if lines:
            out.write("\r\n".join(lines) + "\r\n")
    return bad


# -- one import, in a child process ------------------------------------------------------------


def child(url: str, path: str, mode: str, parallel: bool | None) -> None:
    """Import the file like `centralita customers import` does; print figures as JSON."""
    from centralita.customers.importer import ImportMode, import_customers
    from centralita.customers.parsing import CustomerParser
    from centralita.customers.phones import E164Phones
    from centralita.customers.sources import open_source

    engine = make_engine(url)
    children = _ChildrenPeak()
    started = time.perf_counter()
    cpu = time.process_time()
    with open_source(Path(path)) as source:
        parser = CustomerParser(source, E164Phones("CO"))
        counts = import_customers(
            engine, CAMPAIGN, parser, mode=ImportMode(mode), parallel=parallel
        )
    elapsed = time.perf_counter() - started
    engine.dispose()
    # A large file is parsed in a child process of this one (customers/parallel.py): its
    # CPU counts as the client's too, and its peak memory adds to ours.
    parser_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu": time.process_time() - cpu + parser_usage.ru_utime + parser_usage.ru_stime,
                "peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + children.stop())
                / 1024,
                "counts": counts.__dict__,
            }
        )
    )


class _ChildrenPeak:
    """The peak memory of this process's children (KiB), from their `VmHWM`, sampled.

    Not RUSAGE_CHILDREN's ru_maxrss: Linux carries a process's high-water mark across
    `exec`, so a child started by (v)fork from this process reports this process's size at
    that moment (70 MB and more of pages it shared and never touched) instead of its own.
    `VmHWM` is the high-water mark of the child's own image, after `exec`; it only grows,
    so the last value read is the peak up to then (sampled every 50 ms; the parsing child's
    memory is flat by then)."""

    def __init__(self) -> None:
        self.peaks: dict[int, int] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return sum(self.peaks.values())

    def _sample(self) -> None:
        while not self.done.wait(0.05):
            for task in Path("/proc/self/task").iterdir():
                with contextlib.suppress(OSError):
                    for pid in (task / "children").read_text().split():
                        with contextlib.suppress(OSError, StopIteration):
                            status = Path(f"/proc/{pid}/status").read_text().splitlines()
                            line = next(x for x in status if x.startswith("VmHWM:"))
                            self.peaks[int(pid)] = int(line.split()[1])


@dataclass
class Result:
    database: str
    scenario: str
    seconds: float
    cpu: float
    peak_mb: float
    counts: dict[str, int]

    @property
    def rate(self) -> float:
        return self.counts["read"] / self.seconds


# --parsing: the `parallel` argument of import_customers (None: it decides).
PARSING: dict[str, bool | None] = {"auto": None, "here": False, "child": True}


def run_child(url: str, path: Path, mode: str, parsing: str) -> tuple[dict[str, Any], float]:
    command = [sys.executable, "-m", "benchmarks.import", "--child", url, str(path), mode]
    command += ["--parsing", parsing]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, _ = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"import into {url} failed (exit {process.returncode})")
    figures = json.loads(output.strip().splitlines()[-1])
    # The import process's peak plus its parsing process's (KiB on Linux): an upper bound of
    # what both held at once.
    return figures, figures["peak_mb"]


def prepare(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        create_campaign(session, CAMPAIGN, "Cartera castigada")
    engine.dispose()


def bench_database(name: str, url: str, path: Path, parsing: str) -> list[Result]:
    prepare(url)
    results = []
    for scenario, mode in (("first import (upsert)", "upsert"), ("same file (replace)", "replace")):
        figures, peak = run_child(url, path, mode, parsing)
        results.append(
            Result(name, scenario, figures["seconds"], figures["cpu"], peak, figures["counts"])
        )
        print(f"  {name:10s} {scenario:22s} {figures['seconds']:6.2f} s", flush=True)
    return results


def postgres_database() -> tuple[str, Any]:
    admin = make_url(ADMIN_URL).set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)

    def execute(sql: str) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql)

    execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    execute(f"CREATE DATABASE {BENCH_DATABASE}")
    url = make_url(ADMIN_URL).set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    return url, lambda: execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument(
        "--parsing",
        choices=sorted(PARSING),
        default="auto",
        help="where the file is parsed: as the CLI decides (a large file in a child process "
        "when there is a second core), here (in the importing process) or in a child",
    )
    parser.add_argument("--child", nargs=3, metavar=("URL", "FILE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, file, mode = args.child
        child(url, file, mode, parallel=PARSING[args.parsing])
        return
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    with tempfile.TemporaryDirectory(prefix="centralita-import-") as folder:
        path = Path(folder) / "clientes.csv"
        started = time.perf_counter()
        bad = generate(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} rows ({size_mb:.0f} MB, cp1252, ';') in "
            f"{time.perf_counter() - started:.1f} s; bad rows: {bad}",
            flush=True,
        )
        results: list[Result] = []
        for name in databases:
            if name == "postgresql":
                url, drop = postgres_database()
                try:
                    results += bench_database(name, url, path, args.parsing)
                finally:
                    drop()
            elif name == "sqlite":
                results += bench_database(
                    name, f"sqlite:///{Path(folder) / 'bench.db'}", path, args.parsing
                )
            else:
                raise SystemExit(f"unknown database {name!r}: postgresql or sqlite")
    report(results, args.parsing)


def reference_ms() -> float:
    """How fast this machine runs Python right now: the best of 5 `sum(range(10**6))`, in ms
    (about 10 ms on one core of a 2024 laptop). Figures from a slower or busier machine scale
    with it."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        sum(range(10**6))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def report(results: list[Result], parsing: str) -> None:
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}; "
        f"load average {os.getloadavg()[0]:.2f}; sum(range(10**6)) in {reference_ms():.1f} ms; "
        f"parsing: {parsing}"
    )
    print(
        f"{'database':10s} {'import':22s} {'rows':>9s} {'seconds':>8s} {'rows/s':>9s} "
        f"{'client CPU':>10s} {'peak MB':>8s}  target"
    )
    for r in results:
        target = ""
        if r.scenario.startswith("first"):
            ok_rate = r.rate >= TARGET_RATE[r.database]
            target = f"{'ok' if ok_rate else 'MISSED'} (≥ {TARGET_RATE[r.database]:,.0f} rows/s)"
        memory = "ok" if r.peak_mb < TARGET_PEAK_MB else "MISSED"
        print(
            f"{r.database:10s} {r.scenario:22s} {r.counts['read']:9,d} {r.seconds:8.2f} "
            f"{r.rate:9,.0f} {r.cpu:9.2f}s {r.peak_mb:8.1f}  {target} memory {memory}"
        )
    print("counts:", {f"{r.database}/{r.scenario}": r.counts for r in results})


if __name__ == "__main__":
    main()
