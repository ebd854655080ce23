"""Reading flow files: problems for authors, compiled flows for the engine.

`load_text` runs the whole pipeline on one file (YAML, schema, semantic checks, build,
machine); `load_paths` does it for files and folders and adds the checks that need every flow
at once (duplicate ids, unknown or cyclic `flow` calls, slots nobody sets). Compiled flows
are cached by content hash, so a version is compiled once however often it is loaded.
"""

from __future__ import annotations

import difflib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from centralita.bot.build import build_flow, content_hash
from centralita.bot.checks import FlowChecker, FlowFacts
from centralita.bot.compiler import compile_machine
from centralita.bot.model import Flow
from centralita.bot.problems import Problem, has_errors
from centralita.bot.schema import schema_problems
from centralita.bot.yamlsrc import Document, YamlError, load

log = logging.getLogger(__name__)

FLOW_SCHEMA = "flow.schema.json"
MAX_FILE_BYTES = 1_000_000
_CACHE_SIZE = 256
_cache: OrderedDict[tuple[str, str], Flow] = OrderedDict()  # (version, file)
_cache_lock = threading.Lock()


@dataclass
class Loaded:
    file: str
    flow: Flow | None
    problems: list[Problem]
    facts: FlowFacts | None = None
    doc: Document | None = None


def read_source(path: Path, file: str) -> tuple[str | None, list[Problem]]:
    """A file's text, or a problem saying why it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(file, 1, 1, f"cannot read file: {exc.strerror or exc}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Problem(
                file,
                1,
                1,
                f"file is larger than {MAX_FILE_BYTES} bytes",
                "error",
                "split it into several flows joined with flow steps",
            )
        ]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                file,
                line,
                1,
                "file is not valid UTF-8",
                "error",
                "save it as UTF-8 (most editors offer it under 'Save with encoding')",
            )
        ]


def load_document(source: str, file: str) -> tuple[Document | None, list[Problem]]:
    try:
        doc = load(source)
    except YamlError as exc:
        return None, [Problem(file, exc.line, exc.col, exc.message, "error", exc.hint)]
    except RecursionError:
        return None, [Problem(file, 1, 1, "the YAML nests too deeply")]
    return doc, []


def load_text(source: str, file: str) -> Loaded:
    """Validate and, when valid, compile one flow file's text."""
    doc, problems = load_document(source, file)
    if doc is None:
        return Loaded(file, None, problems)
    if not isinstance(doc.data, dict):
        return Loaded(
            file,
            None,
            [Problem(file, 1, 1, "a flow file must be a mapping with flow:, start: and steps:")],
            doc=doc,
        )
    problems = schema_problems(doc, FLOW_SCHEMA, file)
    semantic, facts = FlowChecker(doc, file).run()
    problems.extend(semantic)
    problems.sort()
    if has_errors(problems):
        return Loaded(file, None, problems, facts, doc)
    return Loaded(file, _compiled(doc, file, source), problems, facts, doc)


def _compiled(doc: Document, file: str, source: str) -> Flow:
    version = content_hash(source)
    key = (version, file)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
        # The same text under another name (a copy, a rename) shares the compiled steps and
        # machine, but must still say where it was read from.
        twin = next((flow for (v, _), flow in _cache.items() if v == version), None)
    if twin is not None:
        flow = replace(twin, path=file)
    else:
        flow = build_flow(doc.data, file, source)
        flow.machine = compile_machine(flow)
    with _cache_lock:
        _cache[key] = flow
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return flow


def load_file(path: Path, file: str | None = None) -> Loaded:
    name = file or str(path)
    source, problems = read_source(path, name)
    if source is None:
        return Loaded(name, None, problems)
    try:
        return load_text(source, name)
    except (RecursionError, MemoryError, OverflowError, ValueError) as exc:
        # The specific checks give located messages; this is the net under them, so one
        # pathological file never stops the others from being checked or served.
        message = f"cannot check this file: {type(exc).__name__}: {str(exc)[:200]}"
        return Loaded(name, None, [Problem(name, 1, 1, message, "error", "simplify the file")])


def flow_files(
    paths: Iterable[Path], *, recursive: bool = False
) -> tuple[list[Path], list[Problem]]:
    """The YAML files named, and those inside the folders named: directly inside (so a flows
    folder's tests/ is left out), or at any depth with `recursive` (test folders)."""
    found: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            candidates = path.rglob("*") if recursive else path.iterdir()
            found.extend(
                sorted(p for p in candidates if p.suffix in (".yaml", ".yml") and p.is_file())
            )
        elif path.exists():
            found.append(path)
        else:
            problems.append(Problem(str(path), 1, 1, "no such file or folder"))
    return found, problems


@dataclass
class FlowSet:
    """Flows by id (the current version) and every version seen (chats stay on theirs)."""

    flows: dict[str, Flow] = field(default_factory=dict)
    versions: dict[tuple[str, str], Flow] = field(default_factory=dict)

    def add(self, flow: Flow) -> None:
        self.flows[flow.id] = flow
        self.versions[(flow.id, flow.version)] = flow

    def remember(self, flow: Flow) -> None:
        """Keep an old version reachable (for chats on it) without making it current."""
        self.versions[(flow.id, flow.version)] = flow

    def current(self, flow_id: str) -> Flow | None:
        return self.flows.get(flow_id)

    def version(self, flow_id: str, version: str) -> Flow | None:
        return self.versions.get((flow_id, version))


def check_set(loaded: Sequence[Loaded]) -> list[Problem]:
    """Checks across flows: duplicate ids, unknown and cyclic calls, slots nobody sets."""
    problems: list[Problem] = []
    by_id: dict[str, Loaded] = {}
    for item in loaded:
        if item.facts is None or item.facts.flow_id is None or item.doc is None:
            continue
        flow_id = item.facts.flow_id
        if flow_id in by_id:
            mark = item.doc.at(("flow",))
            problems.append(
                Problem(
                    item.file,
                    mark.line,
                    mark.col,
                    f"flow id {flow_id!r} is also used by {by_id[flow_id].file}",
                    "error",
                    "flow ids must be unique across the flows folder",
                )
            )
            continue
        by_id[flow_id] = item
    calls = {fid: {c for c, _ in item.facts.calls} for fid, item in by_id.items() if item.facts}
    called_by_someone = {c for targets in calls.values() for c in targets}
    all_slots = {s for item in by_id.values() if item.facts for s in item.facts.slots_set}
    for flow_id, item in by_id.items():
        facts, doc = item.facts, item.doc
        assert facts is not None and doc is not None
        for target, path in facts.calls:
            mark = doc.at(path)
            if target not in by_id:
                close = difflib.get_close_matches(target, list(by_id), n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else "flows are looked up by their flow: id"
                )
                problems.append(
                    Problem(
                        item.file, mark.line, mark.col, f"unknown flow {target!r}", "error", hint
                    )
                )
            elif _reaches(calls, target, flow_id):
                problems.append(
                    Problem(
                        item.file,
                        mark.line,
                        mark.col,
                        f"flow call cycle: {flow_id} -> {target} -> ... -> {flow_id}",
                        "error",
                        "a flow may not call itself, directly or through others",
                    )
                )
        for slot, path in facts.slots_read:
            if slot not in all_slots and slot != "language":
                mark = doc.at(path)
                close = difflib.get_close_matches(slot, sorted(all_slots), n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else "set it with an ask, a menu slot or a set step"
                )
                problems.append(
                    Problem(
                        item.file,
                        mark.line,
                        mark.col,
                        f"slot {slot!r} is never set by any step",
                        "error",
                        hint,
                    )
                )
        if flow_id not in called_by_someone:
            for sid in facts.returns_from:
                mark = doc.key_at(("steps", sid))
                problems.append(
                    Problem(
                        item.file,
                        mark.line,
                        mark.col,
                        f"step {sid!r} is the last step and has no next: "
                        "the chat would go to an agent",
                        "warning",
                        "add next:, or end the conversation with an end or handoff step",
                    )
                )
    return problems


def _reaches(calls: dict[str, set[str]], start: str, goal: str) -> bool:
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(calls.get(current, ()))
    return False


def load_paths(
    paths: Iterable[Path], *, context: Iterable[Path] = ()
) -> tuple[FlowSet, list[Loaded], list[Problem]]:
    """Load every flow file under `paths`; a flow with problems is left out of the set.

    `context`: more files or folders whose flows the named ones may call or share slots with
    (validating one file of a folder), loaded for the checks across flows but whose own
    problems are not reported."""
    files, problems = flow_files(paths)
    named = {f.resolve() for f in files}
    extra, _ = flow_files(context)
    loaded = [load_file(f) for f in files]
    loaded += [load_file(f) for f in dict.fromkeys(extra) if f.resolve() not in named]
    reported = {str(f) for f in files}
    problems.extend(p for item in loaded if item.file in reported for p in item.problems)
    set_problems = check_set(loaded)
    problems.extend(p for p in set_problems if p.file in reported)
    broken = {p.file for p in set_problems if p.severity == "error"}
    flows = FlowSet()
    for item in loaded:
        if item.flow is not None and item.file not in broken:
            flows.add(item.flow)
    return flows, loaded, sorted(problems)


class FlowLibrary(FlowSet):
    """The flows of FLOWS_DIR, reloaded when files change. An invalid edit never replaces a
    valid flow: the previous version keeps serving and the problems are logged."""

    # How often `maybe_refresh` looks at the files: edits show within a second, and a busy
    # server does not stat the folder on every message.
    CHECK_EVERY = 1.0

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.problems: list[Problem] = []
        self._stamps: dict[Path, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._checked = 0.0
        self.refresh(force=True)

    def maybe_refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked >= self.CHECK_EVERY:
            self._checked = now
            self.refresh()

    def _stamp(self) -> dict[Path, tuple[float, int]]:
        files, _ = flow_files([self.directory])
        stamps = {}
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            stamps[path] = (stat.st_mtime, stat.st_size)
        return stamps

    def refresh(self, *, force: bool = False) -> bool:
        """Reload if any file changed; True when something was reloaded."""
        stamps = self._stamp()
        if not force and stamps == self._stamps:
            return False
        with self._lock:
            loaded_set, loaded, problems = load_paths([self.directory])
            for flow in loaded_set.flows.values():
                self.add(flow)
            # A flow whose file is gone stops greeting new chats; chats already on it keep
            # their version. A file that is there but invalid keeps its last valid version.
            on_disk = {item.facts.flow_id for item in loaded if item.facts and item.facts.flow_id}
            for flow_id in [f for f in self.flows if f not in on_disk]:
                del self.flows[flow_id]
            for problem in problems:
                if problem.severity == "error":
                    log.warning("flow not reloaded: %s", problem.format())
            self.problems = problems
            self._stamps = stamps
        return True
