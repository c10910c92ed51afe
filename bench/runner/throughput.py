"""Benchmark 2: archive-runner throughput against a plain-HTTP floor and against vdirsyncer.

    python bench/runner/throughput.py [--parts first-run,rerun,window] [--repeat-first N]
                                      [--repeat-rerun N] [--keep DIR]

One real Radicale (loopback, free port, throwaway storage) holds a source calendar of 2,000
objects (bench/runner/seed.py) seeded through its filesystem storage; the window is the four
months 2024-02-01..2024-05-31 in Europe/London. Every contender is a separate process timed
from spawn to exit, writing into its own fresh archive collection; the contenders of one
repetition run side by side in a rotated order, and each figure is a ratio against the
baseline of the same repetition (median and min-max over repetitions). Requests are counted
from Radicale's request log, so no proxy sits in the timed path.

- first-run: floor (only the conditional PUTs of the same bytes) vs archive-runner, in both
  recurrence modes; vdirsyncer (one copy per source object, like ``series`` mode).
- rerun: nothing changed; archive-runner (archive seeded through the filesystem with exactly
  what a first run writes) vs vdirsyncer (after its first sync).
- window: the window moves one month forward; what each archive still holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import seed
import stats
import vdir
from archive_runner.backends.caldav import CalDavSource
from archive_runner.convert import build_items
from archive_runner.ical import digest
from archive_runner.window import Window
from server import PASSWORD, USERNAME, Radicale

ZONE = ZoneInfo("Europe/London")
WINDOW = Window(date(2024, 2, 1), date(2024, 5, 31), ZONE)
MOVED = Window(date(2024, 3, 1), date(2024, 6, 30), ZONE)
MODES = ("occurrences", "series")
HERE = Path(__file__).parent
BIN = Path(sys.executable).parent  # the venv's scripts: `make bench` does not put them on PATH


@dataclass
class Sample:
    seconds: float
    requests: Counter[str]

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def writes(self) -> int:
        return sum(self.requests[m] for m in ("PUT", "DELETE", "MOVE", "PROPPATCH"))


@dataclass
class Bench:
    radicale: Radicale
    work: Path
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    counter: int = 0
    # Where archive-runner is run from: this venv, or (--runner-venv) one holding only what the
    # runner's image installs (`pip install .[runner]`), without the development tools.
    runner_bin: Path = BIN

    # -- set-up -------------------------------------------------------------------------
    def fresh_collection(self, label: str) -> str:
        self.counter += 1
        name = f"{label}-{self.counter:03d}"
        self.radicale.new_collection(name)
        return name

    def payloads(self, mode: str, window: Window = WINDOW) -> Path:
        """The exact copies the runner writes for ``window``, one file each (untimed)."""
        folder = self.work / f"payload-{mode}-{window.start}"
        if folder.exists():
            return folder
        folder.mkdir()
        # The objects as the runner receives them (the server's serialisation, one REPORT):
        # copies made from the seed text itself would carry other source fingerprints.
        client = httpx.Client(auth=httpx.BasicAuth(USERNAME, PASSWORD), timeout=600)
        source = CalDavSource(self.radicale.collection_url("source"), client)
        source_id = digest(source.identity, length=16)
        read = source.fetch(window)
        source.close()
        assert not read.problems, read.problems
        objects = read.objects
        items, errors = build_items(objects, window, mode, source_id, "bench-floor")
        assert not errors, errors
        for item in items:
            (folder / item.name).write_bytes(item.data)
        return folder

    def seeded_archive(self, mode: str) -> str:
        """An archive holding exactly what a first run writes, copied in through the storage."""
        name = self.fresh_collection(f"seeded-{mode}")
        for payload in self.payloads(mode).iterdir():
            shutil.copyfile(payload, self.radicale.collection_path(name) / payload.name)
        return name

    # -- timed contenders ----------------------------------------------------------------
    def timed(self, key: str, command: list[str]) -> Sample:
        env = dict(
            os.environ,
            ARCHIVE_SOURCE_USERNAME=USERNAME,
            ARCHIVE_SOURCE_PASSWORD=PASSWORD,
            ARCHIVE_TERMINATION_LOG=str(self.work / "termination-log"),
        )
        offset = self.radicale.log_offset()
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{key}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        sample = Sample(seconds, self.radicale.requests_since(offset))
        self.samples.setdefault(key, []).append(sample)
        print(f"    {key:<22} {seconds:8.2f} s  {dict(sample.requests)}", flush=True)
        return sample

    def runner(self, key: str, archive: str, mode: str, window: Window = WINDOW) -> Sample:
        return self.timed(
            key,
            [
                str(self.runner_bin / "archive-runner"), "run", "--user", USERNAME,
                "--source-url", self.radicale.collection_url("source"),
                "--destination-url", self.radicale.collection_url(archive),
                "--start", str(window.start), "--end", str(window.end),
                "--time-zone", str(window.zone), "--recurrence", mode, "--timeout", "900",
            ],
        )  # fmt: skip

    def floor(self, key: str, archive: str, mode: str) -> Sample:
        url = self.radicale.collection_url(archive)
        command = [sys.executable, str(HERE / "floor.py"), url, str(self.payloads(mode))]
        return self.timed(key, command)

    def vdirsyncer_pair(self, archive: str, window: Window = WINDOW) -> vdir.VdirPair:
        return vdir.make_pair(
            self.work / f"vdir-{archive}",
            self.radicale.collection_url("source"),
            self.radicale.collection_url(archive),
            _naive_utc(window, "start"),
            _naive_utc(window, "end"),
        )

    def vdirsyncer(self, key: str, pair: vdir.VdirPair) -> Sample:
        return self.timed(key, [str(BIN / "vdirsyncer"), "-c", str(pair.config), "sync"])

    def count(self, archive: str) -> set[str]:
        return {p.name for p in self.radicale.collection_path(archive).glob("*.ics")}


def _naive_utc(window: Window, edge: str) -> object:
    value = window.utc_start if edge == "start" else window.utc_end
    return value.replace(tzinfo=None)


# -- the three parts --------------------------------------------------------------------
FIRST_RUN = ["floor-occ", "runner-occ", "floor-series", "runner-series", "vdirsyncer"]


def first_run(bench: Bench, repeat: int, contenders: list[str]) -> dict[str, str]:
    print(f"first run: {repeat} repetitions", flush=True)
    kept: dict[str, str] = {}
    for rep in range(repeat):
        print(f"  repetition {rep + 1}", flush=True)
        for contender in stats.rotated(contenders, rep):
            archive = bench.fresh_collection(contender)
            if contender.startswith("floor"):
                bench.floor(f"first/{contender}", archive, _mode(contender))
            elif contender.startswith("runner"):
                bench.runner(f"first/{contender}", archive, _mode(contender))
            else:
                pair = bench.vdirsyncer_pair(archive)
                bench.vdirsyncer("first/vdirsyncer", pair)
            kept[contender] = archive
    return kept


def rerun(bench: Bench, repeat: int, vdir_archive: str | None) -> None:
    print(f"no-change re-run: {repeat} repetitions", flush=True)
    archives = {f"runner-{_short(m)}": bench.seeded_archive(m) for m in MODES}
    if vdir_archive is None:  # its first sync, untimed
        vdir_archive = bench.fresh_collection("vdirsyncer")
        bench.vdirsyncer_pair(vdir_archive).sync()
    pair = vdir.VdirPair(bench.work / f"vdir-{vdir_archive}" / "config")
    for archive in archives.values():  # each archive's first read warms Radicale's cache
        bench.runner("warm-up", archive, "series" if "series" in archive else "occurrences")
    bench.vdirsyncer("warm-up", pair)
    for rep in range(repeat):
        for contender in stats.rotated(["runner-occ", "runner-series", "vdirsyncer"], rep):
            if contender == "vdirsyncer":
                bench.vdirsyncer("rerun/vdirsyncer", pair)
            else:
                bench.runner(f"rerun/{contender}", archives[contender], _mode(contender))
    after_changes(bench, archives, pair)


CHANGES = (1, 10, 100)


def after_changes(bench: Bench, archives: dict[str, str], pair: vdir.VdirPair) -> None:
    """k source objects edited (their SUMMARY, through the storage), then one run of each
    contender, side by side: what a run after k changes costs."""
    files = sorted(bench.radicale.collection_path("source").glob("*.ics"))
    for k in CHANGES:
        print(f"after {k} changes", flush=True)
        for path in files[:k]:
            text = path.read_bytes()
            edited = re.sub(
                rb"^SUMMARY:([^\r\n]*)", rb"SUMMARY:\1 (edit)", text, count=1, flags=re.M
            )
            assert edited != text, path
            path.write_bytes(edited)
        for contender in stats.rotated(["runner-occ", "runner-series", "vdirsyncer"], k):
            key = f"changes-{k}/{contender}"
            if contender == "vdirsyncer":
                bench.vdirsyncer(key, pair)
            else:
                bench.runner(key, archives[contender], _mode(contender))


def moved_window(bench: Bench, kept: dict[str, str]) -> dict[str, object]:
    """Move the window a month forward on the archives of the first run."""
    print("window moved to 2024-03-01..2024-06-30", flush=True)
    figures: dict[str, object] = {}
    ours = kept.get("runner-occ") or bench.seeded_archive("occurrences")
    before = bench.count(ours)
    sample = bench.runner("window/runner-occ", ours, "occurrences", MOVED)
    after = bench.count(ours)
    expected = {p.name for p in bench.payloads("occurrences").iterdir()} | {
        p.name for p in bench.payloads("occurrences", MOVED).iterdir()
    }
    figures["runner"] = {
        "before": len(before), "after": len(after), "lost": len(before - after),
        "expected_union": len(expected), "equals_expected": after == expected,
        "deletes": sample.requests["DELETE"],
    }  # fmt: skip
    print(f"    archive-runner: {figures['runner']}", flush=True)
    theirs = kept.get("vdirsyncer")
    if theirs is None:
        theirs = bench.fresh_collection("vdirsyncer")
        bench.vdirsyncer_pair(theirs).sync()
    pair = vdir.VdirPair(bench.work / f"vdir-{theirs}" / "config")
    before = bench.count(theirs)
    vdir.move_window(pair, _naive_utc(MOVED, "start"), _naive_utc(MOVED, "end"))  # type: ignore[arg-type]
    sample = bench.vdirsyncer("window/vdirsyncer", pair)
    after = bench.count(theirs)
    figures["vdirsyncer"] = {
        "before": len(before), "after": len(after), "lost": len(before - after),
        "deletes": sample.requests["DELETE"],
    }  # fmt: skip
    print(f"    vdirsyncer: {figures['vdirsyncer']}", flush=True)
    return figures


def _short(mode: str) -> str:
    return "occ" if mode == "occurrences" else mode


def _mode(contender: str) -> str:
    return "series" if contender.endswith("series") else "occurrences"


# -- report ---------------------------------------------------------------------------
def report(bench: Bench, window_figures: dict[str, object] | None) -> str:
    s = {k: [x.seconds for x in v] for k, v in bench.samples.items()}
    lines = ["", "== figures (ratio: contender / baseline of the same repetition) =="]
    pairs = [
        ("runner-occ / floor-occ", "first/runner-occ", "first/floor-occ", "<= 1.1"),
        ("runner-series / floor-series", "first/runner-series", "first/floor-series", "<= 1.1"),
        ("runner-series / vdirsyncer", "first/runner-series", "first/vdirsyncer", "<= 1.0"),
        ("vdirsyncer / floor-series", "first/vdirsyncer", "first/floor-series", "(info)"),
    ]
    if any(k.startswith("first/") for k in s):
        lines.append("first run, seconds:")
        lines += [
            f"  {k[6:]:<16} {stats.spread(v)}" for k, v in s.items() if k.startswith("first/")
        ]
        lines += [stats.ratio_line(n, s[a], s[b], t) for n, a, b, t in pairs if a in s and b in s]
        for key in [k for k in s if k.startswith("first/")]:
            lines.append(f"  requests {key[6:]:<16} {dict(bench.samples[key][-1].requests)}")
    if "rerun/vdirsyncer" in s:
        lines += [
            "re-run, seconds: " + ", ".join(f"{k[6:]} {stats.spread(v)}" for k, v in s.items()
                                           if k.startswith("rerun/")),
            stats.ratio_line("vdirsyncer / runner-occ (speed-up)", s["rerun/vdirsyncer"],
                             s["rerun/runner-occ"], ">= 2"),
            stats.ratio_line("vdirsyncer / runner-series (speed-up)", s["rerun/vdirsyncer"],
                             s["rerun/runner-series"], ">= 2"),
        ]  # fmt: skip
        for key in ("rerun/runner-occ", "rerun/runner-series", "rerun/vdirsyncer"):
            worst = max(bench.samples[key], key=lambda x: (x.writes, x.total))
            lines.append(
                f"  requests {key[6:]:<16} max {worst.total} (writes {worst.writes}) "
                f"{dict(worst.requests)}   target: runner <= 3, 0 writes"
            )
    for k in CHANGES:
        keys = {c: f"changes-{k}/{c}" for c in ("runner-occ", "runner-series", "vdirsyncer")}
        if all(key in s for key in keys.values()):
            lines.append(f"after {k} changes, seconds (one run each) and requests:")
            for contender, key in keys.items():
                sample = bench.samples[key][-1]
                lines.append(f"  {contender:<14} {sample.seconds:6.2f}  {dict(sample.requests)}")
    if window_figures:
        lines.append(f"window moved forward: {json.dumps(window_figures)}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="first-run,rerun,window")
    parser.add_argument("--repeat-first", type=int, default=3)
    parser.add_argument("--first-run", default=",".join(FIRST_RUN), help="contenders")
    parser.add_argument("--repeat-rerun", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument(
        "--runner-venv",
        type=Path,
        help="run archive-runner from this venv (e.g. one made with `pip install .[runner]`, "
        "as the runner's image has it) instead of this one",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-runner-"))
    work.mkdir(parents=True, exist_ok=True)
    with Radicale(work / "radicale") as radicale:
        bench = Bench(radicale, work)
        if args.runner_venv is not None:
            bench.runner_bin = args.runner_venv / "bin"
        print(f"seeded {seed.write_collection(radicale.new_collection('source'))} objects; "
              f"Radicale {radicale.base_url}; work {work}", flush=True)  # fmt: skip
        for mode in MODES:
            print(f"  {mode}: {len(list(bench.payloads(mode).iterdir()))} copies", flush=True)
        kept = (
            first_run(bench, args.repeat_first, args.first_run.split(","))
            if "first-run" in parts
            else {}
        )
        if "rerun" in parts:
            rerun(bench, args.repeat_rerun, kept.get("vdirsyncer"))
        figures = moved_window(bench, kept) if "window" in parts else None
    text = report(bench, figures)
    print(text)
    raw = {k: [[x.seconds, dict(x.requests)] for x in v] for k, v in bench.samples.items()}
    (work / "figures.json").write_text(json.dumps({"samples": raw, "window": figures}, indent=1))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
