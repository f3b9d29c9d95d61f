"""The result of a load run (``LoadReport``), its load model (``ModelSpec``), the live progress
snapshot (``Progress``) and merging reports (``merge_reports``, ``a2actl load report``).

The ``-o json`` document (``LoadReport.to_json``, documented in docs/load.md) carries the counters,
per-metric statistics in seconds, the error table, the terminal histogram's buckets, the threshold
results and every histogram in HdrHistogram's encoding, so ``load report a.json b.json`` can merge
runs exactly: counts add, percentiles are those of the union, thresholds are judged on the union.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from a2actl.core.errors import UsageError
from a2actl.core.exit_codes import ExitCode
from a2actl.load.metrics import Recorder, new_histogram, read_count
from a2actl.load.thresholds import Threshold, ThresholdResult, evaluate, parse_threshold, threshold_key

#: ``kind`` of the report documents, so ``load report`` can refuse other JSON.
REPORT_KIND = "a2actl.load.report"


@dataclass(frozen=True)
class ModelSpec:
    """The load model. ``kind`` ``closed``: ``concurrency`` workers. ``kind`` ``open``: ``rate``
    arrivals per second, reached by a linear ramp from 0 over ``ramp`` seconds when set, with
    ``max_in_flight`` the cap. Either ends after ``requests`` arrivals and/or ``duration`` seconds."""

    kind: str
    concurrency: int = 1
    requests: int | None = None
    duration: float | None = None
    rate: float | None = None
    ramp: float | None = None
    max_in_flight: int = 1000

    def arrival(self, seq: int) -> float | None:
        """Open model: the intended start of arrival ``seq`` in seconds after the run's start, or
        ``None`` when the run has ended (``requests`` reached or past ``duration``). During a ramp
        from 0 to R over T, arrivals so far are ``R t² / 2T``, so arrival n is at ``sqrt(2 T n / R)``."""
        if self.requests is not None and seq >= self.requests:
            return None
        rate = self.rate or 1.0
        ramp = self.ramp or 0.0
        in_ramp = rate * ramp / 2.0
        at = math.sqrt(2.0 * ramp * seq / rate) if seq < in_ramp else ramp + (seq - in_ramp) / rate
        if self.duration is not None and at >= self.duration:
            return None
        return at

    def ramp_cut(self) -> tuple[float, float] | None:
        """When the open model's schedule ends before its ramp does (``--ramp`` longer than
        ``--duration``, or ``-n`` arrivals all scheduled within the ramp): ``(end, reached)``, the
        seconds from the start to the end (``duration``, or the last arrival's intended start) and
        the arrival rate reached then (req/s, below ``rate``). ``None`` when the ramp completes, or
        for no ramp or the closed model."""
        if self.kind != "open" or not self.ramp or not self.rate:
            return None
        end = math.inf if self.duration is None else self.duration
        if self.requests is not None:  # the last arrival's time, as arrival() computes it
            last = max(0, self.requests - 1)
            in_ramp = self.rate * self.ramp / 2.0
            if last < in_ramp:
                end = min(end, math.sqrt(2.0 * self.ramp * last / self.rate))
        if end >= self.ramp:
            return None
        return end, self.rate * end / self.ramp

    def asked_rate(self) -> float | None:
        """The asked steady arrival rate (req/s; ``None`` for the closed model)."""
        return self.rate if self.kind == "open" else None

    def to_json(self) -> dict[str, Any]:
        """``{"kind", "concurrency"|"rate","ramp","maxInFlight", "requests", "duration"}``."""
        doc: dict[str, Any] = {"kind": self.kind}
        if self.kind == "closed":
            doc["concurrency"] = self.concurrency
        else:
            doc.update(rate=self.rate, ramp=self.ramp, maxInFlight=self.max_in_flight)
        doc.update(requests=self.requests, duration=self.duration)
        return doc


@dataclass(frozen=True)
class Progress:
    """A live snapshot: ``elapsed`` seconds, requests ``sent``, ``answered``, ``in_flight``, the
    ``rate`` of answers in the last second, ``p99`` latency so far (seconds; ``None`` before the
    first answer), ``failures`` and ``dropped`` so far, and ``sending``: requests sent per second
    over the last second (an agent that does not keep up answers at a lower ``rate``)."""

    elapsed: float
    sent: int
    answered: int
    in_flight: int
    rate: float
    p99: float | None
    failures: int
    dropped: int
    sending: float = 0.0


def rates_of(recorder: Recorder, elapsed: float) -> dict[str, float | None]:
    """The rate metrics thresholds can name: ``errors`` (not ok / answered), ``failed`` (task-failed
    / answered), ``dropped`` (dropped / scheduled) as fractions, ``rps`` (answered / ``elapsed``
    seconds: for a finished run the answer window, from the start to the last answer, so an agent
    whose backlog drains long after the last request was sent is not credited with the sending
    rate). ``None`` where the denominator is zero."""
    answered, total = recorder.answered, recorder.total
    return {
        "errors": recorder.failures / answered if answered else None,
        "failed": recorder.statuses["task-failed"] / answered if answered else None,
        "dropped": recorder.statuses["dropped"] / total if total else None,
        "rps": answered / elapsed if elapsed > 0 and answered else None,
    }


def ramp_note(model: Any) -> str | None:
    """The note for an open model (a report's ``model`` object, ``ModelSpec.to_json``) whose
    schedule ends before its ``--ramp`` does (``ModelSpec.ramp_cut``): the run never reached the
    asked ``--rate``, which ``throughput.asked`` still names. ``None`` otherwise, and for a model
    object that is not one (a merged or malformed one)."""
    if not isinstance(model, dict) or model.get("kind") != "open":
        return None
    numbers: dict[str, float | None] = {}
    for key in ("rate", "ramp", "duration", "requests"):
        value = model.get(key)
        numbers[key] = None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            numbers[key] = float(value) if value > 0 else None
    requests = numbers["requests"]
    spec = ModelSpec(
        "open",
        rate=numbers["rate"],
        ramp=numbers["ramp"],
        duration=numbers["duration"],
        requests=int(requests) if requests is not None else None,
    )
    cut = spec.ramp_cut()
    if cut is None or spec.rate is None or spec.ramp is None:
        return None
    end, reached = cut
    by = (
        f"--duration {spec.duration:g}s"
        if spec.duration is not None and end >= spec.duration
        else f"-n {spec.requests}"
    )
    return (
        f"the run ends {end:.2f}s into the {spec.ramp:g}s --ramp ({by}): arrivals reached "
        f"{reached:.1f} req/s, never the {spec.rate:g} req/s --rate asks; lengthen the run or "
        "shorten --ramp"
    )


def _ramp_notes(model: Any) -> list[str]:
    """``ramp_note`` of each run behind a report's ``model`` object, through merges, each once."""
    if isinstance(model, dict) and model.get("kind") == "merged":
        models = model.get("models")
        out: list[str] = []
        for m in models if isinstance(models, list) else []:
            out += [n for n in _ramp_notes(m) if n not in out]
        return out
    note = ramp_note(model)
    return [] if note is None else [note]


def _model_kinds(model: Any) -> set[str]:
    """The load models (``closed``/``open``) behind a report's ``model`` object, through merges."""
    if not isinstance(model, dict):
        return set()
    if model.get("kind") == "merged":
        models = model.get("models")
        return set().union(*(_model_kinds(m) for m in models)) if isinstance(models, list) else set()
    return {str(model.get("kind"))}


@dataclass
class LoadReport:
    """A load run's (or a merge's) result. Durations in seconds; ``started_at`` a Unix time;
    ``runs`` how many runs were merged into it (1 for a plain run); ``asked_rate`` the sum of the
    runs' asked rates (req/s; ``None`` for closed runs). ``run_id`` identifies a plain run (a
    UUID4; ``None`` for a merge), ``run_ids`` the runs a merge holds (those whose reports had one),
    so ``load report`` can refuse to count one run twice."""

    target: str
    scenario: str
    model: dict[str, Any]
    negotiated: dict[str, Any] | None
    recorder: Recorder
    started_at: float
    elapsed: float
    asked_rate: float | None
    thresholds: list[ThresholdResult] = field(default_factory=list)
    aborted: str | None = None
    #: seconds from the start to the last request started (the sending rate's denominator; None: elapsed)
    window: float | None = None
    #: seconds from the start to the last answer, or to the cut when requests in flight were
    #: cancelled (the throughput's denominator, drain included; None: elapsed)
    answer_window: float | None = None
    #: requests sent and cut before their answer (--max-time, Ctrl-C/SIGTERM): not answers, not errors
    cancelled: int = 0
    #: Ctrl-C or SIGTERM stopped the run (exit 130)
    interrupted: bool = False
    run_id: str | None = None
    run_ids: list[str] = field(default_factory=list)
    timed_out: bool = False
    timeout: float | None = None
    client: dict[str, Any] | None = None
    runs: int = 1
    sources: list[str] = field(default_factory=list)
    #: a merge's notes on runs that differ (targets, A2A version or binding, open and closed models)
    merge_notes: list[str] = field(default_factory=list)
    #: whether ``aborted`` is a failed check (exit 7): ``--abort-on-fail`` stopped the run (or, in a
    #: merge, one of its runs). Not when the run stopped because a request's ``-o jsonl`` record
    #: could not be written (a full disk, a closed pipe): its output failed, no check did
    abort_failed: bool = True
    #: requests that start the run together, each the first of its own sequence of requests (the
    #: open model's first arrival: 1; the closed model: one per worker, ``concurrency``; a merge:
    #: the sum over its runs); the sending rate counts the intervals after them (``sending_rate``)
    streams: int = 1

    @classmethod
    def build(
        cls,
        *,
        target: str,
        scenario: str,
        model: Any,
        negotiated: dict[str, Any] | None,
        recorder: Recorder,
        started_at: float,
        elapsed: float,
        thresholds: tuple[Threshold, ...],
        aborted: str | None = None,
        window: float | None = None,
        answer_window: float | None = None,
        cancelled: int = 0,
        interrupted: bool = False,
        timed_out: bool = False,
        timeout: float | None = None,
        client: dict[str, Any] | None = None,
        unrecorded: bool = False,
    ) -> LoadReport:
        """A plain run's report, with ``thresholds`` evaluated on it (``model`` a ``ModelSpec``) and
        a new run id. ``unrecorded``: the run stopped because a record could not be written (then
        ``aborted`` is not a failed check)."""
        run_id = str(uuid.uuid4())
        report = cls(
            target=target,
            scenario=scenario,
            model=model.to_json(),
            negotiated=negotiated,
            recorder=recorder,
            started_at=started_at,
            elapsed=elapsed,
            asked_rate=model.asked_rate(),
            aborted=aborted,
            window=window,
            answer_window=answer_window,
            cancelled=cancelled,
            interrupted=interrupted,
            run_id=run_id,
            run_ids=[run_id],
            timed_out=timed_out,
            timeout=timeout,
            client=client,
            streams=model.concurrency if model.kind == "closed" else 1,
            abort_failed=not unrecorded,
        )
        report.judge(thresholds)
        return report

    def judge(self, thresholds: tuple[Threshold, ...]) -> None:
        """Evaluate ``thresholds`` on this report (replacing earlier results)."""
        rec = self.recorder
        self.thresholds = evaluate(
            thresholds, {n: rec.stats(n) for n in rec.histograms}, rates_of(rec, self.answering)
        )

    @property
    def sending(self) -> float:
        """The sending window in seconds: from the start to the last request started (the answers
        still in flight after it are not time the generator spent sending)."""
        return self.window if self.window else self.elapsed

    @property
    def answering(self) -> float:
        """The answer window in seconds: from the start to the last answer (the drain after the
        sending window included), or to the cut when requests in flight were cancelled."""
        return self.answer_window if self.answer_window else self.elapsed

    @property
    def sent(self) -> int:
        """Requests sent: answered (any status) or cancelled in flight; not the dropped arrivals."""
        return self.recorder.answered + self.cancelled

    def sending_rate(self) -> float | None:
        """The sending rate in req/s: the intervals between request starts per second of the sending
        window. The window runs from the start (where the first request starts) to the last request
        started, so ``n`` requests sent one after the other span ``n - 1`` intervals, and ``n``
        requests in ``streams`` sequences that start together (the closed model's workers) span
        ``n - streams``: ``(sent - streams) / sendingWindow``. An open run that keeps its schedule
        reads ``--rate`` for any number of requests; ``sent / sendingWindow`` read ``n/(n-1)`` times
        it (``--rate 10 -n 2``: 20 req/s). ``None`` when no interval was sent (one request per
        stream) or the window is empty. A merge counts the streams of all its runs over the longest
        window."""
        intervals = self.sent - min(self.streams, self.sent)
        sending = self.sending
        return round(intervals / sending, 3) if intervals > 0 and sending > 0 else None

    def rates(self) -> dict[str, float | None]:
        """``{"sent", "achieved", "ok"}`` in req/s (``None`` over an empty window): the sending
        rate (``sending_rate``: the intervals between starts over the sending window) and the
        throughput, of every answer and of ``ok`` answers, over the answer window (vegeta's "rate"
        and "throughput")."""
        rec, answering = self.recorder, self.answering
        return {
            "sent": self.sending_rate(),
            "achieved": round(rec.answered / answering, 3) if answering > 0 else None,
            "ok": round(rec.statuses["ok"] / answering, 3) if answering > 0 else None,
        }

    @property
    def exit(self) -> ExitCode:
        """130 when Ctrl-C or SIGTERM stopped the run, 5 when ``--max-time`` stopped it, 7 when a
        threshold failed or the run aborted on one, else 0 (docs/exit-codes.md). A run stopped
        because its records could not be written (not ``abort_failed``) is judged by its
        thresholds: the output failed, not a check (the command exits with the output's own code)."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.timed_out:
            return ExitCode.TIMEOUT
        if (self.aborted and self.abort_failed) or any(not t.ok for t in self.thresholds):
            return ExitCode.CHECK_FAILED
        return ExitCode.OK

    @property
    def closed_only(self) -> bool:
        """Whether every run of this report was in the closed model (which has no schedule lag)."""
        return _model_kinds(self.model) == {"closed"}

    def notes(self) -> list[str]:
        """What the figures mean for this model: the closed model hides stalls in its arrivals;
        the open model's drops and lag say the cap or the generator limited it. A merged report
        speaks for the models of its runs (the closed note when every run was closed)."""
        out = list(self.merge_notes)
        kinds = _model_kinds(self.model)
        rec = self.recorder
        if self.closed_only:
            out.append(
                "closed model: latency counts from each request's actual start, so a stalled agent "
                "delays the next requests instead of showing in the percentiles (coordinated omission); "
                "use --rate for the open model"
            )
        out += _ramp_notes(self.model)
        if rec.statuses["dropped"]:
            out.append(
                f"{rec.statuses['dropped']} arrivals were dropped: --max-in-flight was full and so was "
                "its backlog; the agent could not keep up with --rate (or raise the cap)"
            )
        rates = self.rates()
        sent, achieved = rates["sent"], rates["achieved"]
        drain = self.answering - self.sending
        if "open" in kinds and sent and achieved is not None and achieved < 0.9 * sent and drain >= 1.0:
            out.append(
                f"the agent did not keep up: requests were sent at {sent:.1f} req/s but answered at "
                f"{achieved:.1f} req/s; the last answer came {drain:.1f}s after the last request was sent"
            )
        lag = rec.percentile("lag", 99.0)
        if "open" in kinds and lag is not None and lag > 0.005:
            out.append(
                f"schedule lag p99 {lag * 1000:.1f} ms: requests started late (a full --max-in-flight "
                "cap, or a busy client); their latency counts from the intended time"
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``-o json`` document (docs/load.md): ``kind``, ``target``, ``scenario``, ``model``,
        ``negotiated``, ``runs``, ``sources``, ``runId``, ``runIds``, ``startedAt`` (ISO 8601 UTC),
        ``elapsed``, ``sendingWindow``, ``answerWindow`` (s), ``timeout`` (s, per request),
        ``client`` (``{"http", "loop"}``: the HTTP client and event loop that generated the load),
        ``requests`` (scheduled, sent, ok, failures, dropped, cancelled), ``throughput`` (asked,
        sent (``sending_rate``), achieved, ok; req/s), ``metrics`` (name → stats in seconds), ``errors``, ``states``,
        ``events``, ``bytes``, ``latencyBuckets``, ``thresholds``, ``aborted``, ``interrupted``,
        ``notes``, ``exitCode``, ``histograms`` (encoded)."""
        rec = self.recorder
        counts = rec.counts_json()
        elapsed = self.elapsed
        rates = self.rates()
        return {
            "kind": REPORT_KIND,
            "target": self.target,
            "scenario": self.scenario,
            "model": self.model,
            "negotiated": self.negotiated,
            "runs": self.runs,
            "sources": self.sources or None,
            "runId": self.run_id,
            "runIds": self.run_ids,
            "startedAt": datetime.fromtimestamp(self.started_at, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "elapsed": round(elapsed, 6),
            "sendingWindow": round(self.sending, 6),
            "answerWindow": round(self.answering, 6),
            "timeout": self.timeout,
            "client": self.client,
            "requests": {
                "scheduled": rec.total + self.cancelled,
                "sent": self.sent,
                "ok": rec.statuses["ok"],
                "failures": rec.failures,
                "dropped": rec.statuses["dropped"],
                "cancelled": self.cancelled,
            },
            "statuses": counts["statuses"],
            "throughput": {"asked": self.asked_rate, **rates},
            "metrics": {name: rec.stats(name) for name in rec.names()},
            "errors": counts["errors"],
            "states": counts["states"],
            "events": counts["events"],
            "bytes": counts["bytes"],
            "latencyBuckets": rec.buckets("latency"),
            "thresholds": [t.to_json() for t in self.thresholds],
            "aborted": self.aborted,
            "interrupted": self.interrupted,
            "notes": self.notes(),
            "exitCode": int(self.exit),
            "histograms": rec.encoded(),
        }


@dataclass
class _Run:
    """What ``merge_reports`` reads from one document (seconds, req/s, a Unix time)."""

    asked: float | None
    elapsed: float
    window: float
    started: float | None
    runs: int
    thresholds: list[Threshold]
    aborted: str | None
    #: the run was ended by ``--max-time`` (its ``exitCode`` 5)
    timed_out: bool = False
    #: the answer window (a report from before it: ``elapsed``, which ends at the last answer)
    answer_window: float = 0.0
    cancelled: int = 0
    #: Ctrl-C or SIGTERM stopped the run (its ``exitCode`` 130)
    interrupted: bool = False
    #: requests that started the run together (``LoadReport.streams``, from the report's ``model``)
    streams: int = 1
    #: ``aborted`` is a failed check (``LoadReport.abort_failed``): not when the report's
    #: ``exitCode`` is 0 or 2, a run stopped because its ``-o jsonl`` records could not be written
    abort_failed: bool = True


def _streams(model: Any, sent: Any = None) -> int:
    """How many requests started a report's run together (``LoadReport.streams``), from its ``model``
    object: 1 for the open model, ``concurrency`` for the closed one (at most ``sent``, the requests
    it sent, when that is a count), the sum over a merge's ``models``; 1 for anything else (a report
    from before these models, a malformed one: the sending rate then reads as a single sequence)."""
    if not isinstance(model, dict):
        return 1
    kind = model.get("kind")
    if kind == "merged":
        models = model.get("models")
        n = sum(_streams(m) for m in models) if isinstance(models, list) and models else 1
    elif kind == "closed":
        c = model.get("concurrency")
        n = c if isinstance(c, int) and not isinstance(c, bool) and c >= 1 else 1
    else:
        n = 1
    if isinstance(sent, int) and not isinstance(sent, bool) and sent >= 0:
        n = min(n, max(1, sent))
    return n


def _number(value: Any, what: str) -> float:
    """A finite, non-negative JSON number; ``ValueError`` naming ``what`` otherwise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{what} is not a non-negative number: {value!r}")
    return float(value)


def _read_run(doc: dict[str, Any], recorder: Recorder) -> _Run:
    """Add one report document's counters and histograms to ``recorder`` and read the rest.
    Raises ``ValueError`` (``KeyError``/``TypeError``/``AttributeError`` from a malformed field
    become ``ValueError`` at the caller), the recorder unchanged when its data does not decode."""
    for key in ("statuses", "histograms"):  # every report has both ({} for a run that sent nothing)
        if not isinstance(doc.get(key), dict):
            raise ValueError(
                f"{key} is {'missing' if doc.get(key) is None else 'not a JSON object'}: "
                "its requests would be left out of the merge"
            )
    throughput = doc.get("throughput") or {}
    if not isinstance(throughput, dict):
        raise ValueError("throughput is not a JSON object")
    rate = throughput.get("asked")
    asked = None if rate is None else _number(rate, "throughput.asked")
    elapsed = _number(doc.get("elapsed") or 0.0, "elapsed")
    window = _number(doc.get("sendingWindow") or elapsed, "sendingWindow")
    answer_window = _number(doc.get("answerWindow") or elapsed, "answerWindow")
    requests = doc.get("requests") or {}
    if not isinstance(requests, dict):
        raise ValueError("requests is not a JSON object")
    try:
        cancelled = read_count(requests.get("cancelled") or 0)
    except ValueError as exc:
        raise ValueError(f"requests.cancelled: {exc}") from None
    interrupted = doc.get("interrupted", False)  # absent from reports of a2actl before it
    if not isinstance(interrupted, bool):
        raise ValueError("interrupted is not true or false")
    aborted = doc.get("aborted")
    runs = doc.get("runs") or 1
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs is not a positive integer: {runs!r}")
    try:
        started: float | None = datetime.fromisoformat(str(doc.get("startedAt"))).timestamp()
    except ValueError:
        started = None
    thresholds = []
    for t in doc.get("thresholds") or []:
        if not isinstance(t, dict):
            raise ValueError(f"thresholds: {t!r} is not a JSON object")
        try:
            thresholds.append(parse_threshold(str(t.get("threshold"))))
        except UsageError as exc:
            raise ValueError(exc.message) from exc
    for name, text in doc["histograms"].items():  # before hdrhistogram reads them short
        _check_encoded_counts(str(name), text)
    recorder.merge_json(
        {
            "statuses": doc["statuses"],
            "errors": doc.get("errors") or [],
            "states": doc.get("states") or {},
            "events": doc.get("events") or 0,
            "bytes": doc.get("bytes") or 0,
        },
        doc["histograms"],
    )
    _check_counts(recorder, [str(name) for name in doc["histograms"]])
    timed_out = doc.get("exitCode") == int(ExitCode.TIMEOUT)
    return _Run(
        asked,
        elapsed,
        window,
        started,
        runs,
        thresholds,
        str(aborted) if aborted else None,
        timed_out,
        answer_window,
        cancelled,
        interrupted or doc.get("exitCode") == int(ExitCode.INTERRUPTED),
        _streams(doc.get("model"), requests.get("sent")),
        doc.get("exitCode") not in (int(ExitCode.OK), int(ExitCode.USAGE)),
    )


#: The most requests one bucket of a merged histogram may count: HdrHistogram's V2 encoding writes
#: a count as a ZigZag varint of a signed 64-bit number, so 2**62 and more come back wrong or lost.
_MAX_BUCKET = 2**62 - 1
#: The most requests one histogram may count in all: hdrhistogram's decoder sums the counts in a
#: signed 64-bit integer, and a histogram whose sum reaches 2**63 decodes as empty.
_MAX_TOTAL = 2**63 - 1
#: The most bytes an encoded histogram's payload is inflated to here, as ``metrics`` bounds it.
_MAX_PAYLOAD = 8 * 1024 * 1024


def _encoded_counts(text: str, slots: int) -> list[int]:
    """The bucket counts written in one encoded histogram (HdrHistogram's V2 encoding, base64: an
    8-byte header, then zlib of a 40-byte payload header and the counts as ZigZag LEB128 varints,
    up to 9 bytes each, a negative value a run of that many empty buckets), read as the reference
    (Java) decoder reads them, up to ``slots`` buckets. ``[]`` for what does not parse (left to
    hdrhistogram's own checks). The Python decoder reads a count of 2**62 or more as a run of empty
    buckets, and sums the counts in a signed 64-bit integer: what it reads is no check of itself."""
    import base64
    import binascii
    import struct
    import zlib

    try:
        raw = base64.b64decode(text)
        inflater = zlib.decompressobj()
        data = inflater.decompress(raw[8:], _MAX_PAYLOAD)
        length = struct.unpack(">i", data[4:8])[0]
    except (binascii.Error, zlib.error, ValueError, TypeError, struct.error):
        return []
    body = data[40 : 40 + max(0, length)]
    counts: list[int] = []
    index = at = 0
    while at < len(body) and index < slots:
        value = shift = 0
        for i in range(9):  # 8 bytes of 7 bits, a ninth of 8
            if at >= len(body):
                return counts
            byte = body[at]
            at += 1
            value |= (byte if i == 8 else byte & 0x7F) << shift
            shift += 7
            if i < 8 and not byte & 0x80:
                break
        count = (value >> 1) ^ -(value & 1)
        if count < 0:
            index -= count
        else:
            counts.append(count)
            index += 1
    return counts


def _check_encoded_counts(name: str, text: Any) -> None:
    """Raise ``ValueError`` (``"histograms.NAME: …"``) when the encoded histogram ``text`` counts
    more requests than a report can hold: ``_MAX_BUCKET`` in one bucket or ``_MAX_TOTAL`` in all.
    hdrhistogram read such a histogram short: a bucket of 2**62 as none (the histogram of a
    hand-edited report came out empty, its metric gone from the merge without a word), a sum past
    2**63 as a negative one."""
    if not isinstance(text, str):
        return  # merge_json says what is wrong with it
    counts = _encoded_counts(text, new_histogram().counts_len)  # its buckets: 1 µs to 1 h, 3 digits
    total = sum(counts)
    if total > _MAX_TOTAL or max(counts, default=0) > _MAX_BUCKET:
        raise ValueError(_too_many(name, total))


def _too_many(name: str, total: int) -> str:
    """The message for histogram ``name`` counting more than a report holds (``total`` in all)."""
    return (
        f"histograms.{name}: counts more requests than a report can hold ({total:,} in all; "
        f"at most {_MAX_TOTAL:,}, and {_MAX_BUCKET:,} in one bucket): not a run's report"
    )


def _check_counts(recorder: Recorder, names: list[str]) -> None:
    """Raise ``ValueError`` (``"histograms.NAME: …"``) when a histogram ``names`` just added to
    ``recorder`` counts more requests than a report can hold: more than ``_MAX_TOTAL`` in all, or
    ``_MAX_BUCKET`` in one bucket (the merged report could not be written back), or its buckets do
    not sum to its total (the decoder's sum overflowed: a histogram of 2**63 requests in a
    hand-edited report read as one of none, and its metric left the merge without a word). Counts
    that large are no run's; such a report is refused, never merged short."""
    for name in names:
        hist = recorder.histograms.get(name)
        if hist is None:
            continue
        counts = hist.counts[: hist.counts_len]
        total = sum(counts)
        if total != hist.get_total_count() or total > _MAX_TOTAL or max(counts, default=0) > _MAX_BUCKET:
            raise ValueError(_too_many(name, total) + " with the reports before it")


def _run_ids(doc: dict[str, Any]) -> list[str]:
    """The ids of the runs a report holds: ``runIds`` (a run's own, or a merge's), else ``[runId]``;
    ``[]`` for a report from before run ids (it merges as before, checked only for being an equal
    document). ``ValueError`` for ids that are not non-empty strings, or one listed twice."""
    ids = doc.get("runIds")
    if ids is None:
        ids = [] if doc.get("runId") is None else [doc.get("runId")]
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise ValueError(f"runIds is not a list of run ids: {repr(ids)[:80]}")
    if len(set(ids)) != len(ids):
        twice = next(i for n, i in enumerate(ids) if i in ids[:n])
        raise ValueError(f"run {twice} is listed twice in runIds")
    return ids


def merge_reports(docs: list[tuple[str, dict[str, Any]]], extra: tuple[Threshold, ...] = ()) -> LoadReport:
    """Merge ``-o json`` report documents (``(source name, document)`` pairs) of runs that ran side
    by side (N machines or CI jobs sharing one load): counters and histograms add exactly, the
    elapsed time is the longest run's, the start the earliest, asked rates add, and the sending rate
    counts the first requests of every run as starts, not intervals (``LoadReport.sending_rate``). Thresholds:
    ``extra`` when given, else the union of the runs' own (by text, in order of appearance),
    judged on the merged data. A run ``--max-time`` ended (its ``exitCode`` 5) makes the merge 5.

    Raises ``ValueError`` (the caller's exit 2) naming the source (``"b.json: …"``) for a document
    that is not a load report, whose histograms do not decode or whose fields are malformed, for a
    report given twice (two inputs that hold the same run id, e.g. a merged report and one of the
    runs in it, or equal documents for reports without ids: its requests would count twice), and
    when the runs' scenarios differ (or ``docs`` is empty). A run Ctrl-C or SIGTERM stopped (its
    ``exitCode`` 130, ``interrupted``) makes the merge ``interrupted`` (130) too, as ``fleet report``
    does."""
    if not docs:
        raise ValueError("no reports to merge")
    recorder = Recorder()
    scenarios = set()
    asked: float | None = None
    streams = 0
    elapsed = window = answer_window = 0.0
    cancelled = 0
    aborted: list[str] = []
    timed_out = interrupted = abort_failed = False
    started = math.inf
    texts: dict[tuple[str, str | None, str, float], Threshold] = {}  # threshold_key → the first
    seen: list[tuple[str, dict[str, Any]]] = []
    holder: dict[str, str] = {}  # run id → the input that holds it
    for source, doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != REPORT_KIND:
            raise ValueError(f"{source}: not an 'a2actl load run -o json' report")
        try:
            ids = _run_ids(doc)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from exc
        for rid in ids:
            if rid in holder:  # a merged report and a run it holds, or one file given twice
                raise ValueError(
                    f"{source} and {holder[rid]} both hold run {rid}: its requests would count twice; "
                    "merge each run once"
                )
        holder.update((rid, source) for rid in ids)
        same = next((name for name, other in seen if other == doc), None)
        if (
            same is not None
        ):  # one run given twice (a glob and a name, a copy): its requests would count twice
            raise ValueError(f"{source}: the same run as {same}; each run's report is merged once")
        seen.append((source, doc))
        if not isinstance(doc.get("scenario"), str):
            raise ValueError(f"{source}: not an 'a2actl load run -o json' report (scenario is not a string)")
        scenarios.add(doc.get("scenario"))
        try:
            run = _read_run(doc, recorder)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{source}: {exc}") from exc
        if run.asked is not None:
            asked = (asked or 0.0) + run.asked
        streams += run.streams
        elapsed = max(elapsed, run.elapsed)
        window = max(window, run.window)
        answer_window = max(answer_window, run.answer_window)
        cancelled += run.cancelled
        if run.aborted:
            aborted.append(f"{source}: {run.aborted}")
            abort_failed = abort_failed or run.abort_failed
        timed_out = timed_out or run.timed_out
        interrupted = interrupted or run.interrupted
        if run.started is not None:
            started = min(started, run.started)
        for t in run.thresholds:
            texts.setdefault(threshold_key(t), t)
    if len(scenarios) > 1:
        raise ValueError(f"the reports ran different scenarios ({', '.join(sorted(map(str, scenarios)))})")
    first = docs[0][1]
    merge_notes = _mixed_runs(docs)
    report = LoadReport(
        target=str(first.get("target")),
        scenario=str(first.get("scenario")),
        model={
            "kind": "merged",
            "models": [d.get("model") if isinstance(d.get("model"), dict) else None for _, d in docs],
        },
        negotiated=first.get("negotiated") if isinstance(first.get("negotiated"), dict) else None,
        recorder=recorder,
        started_at=started if started != math.inf else 0.0,
        elapsed=elapsed,
        window=window,
        answer_window=answer_window,
        cancelled=cancelled,
        aborted="; ".join(aborted) or None,
        # a run --max-time ended is 5 in the merge too (as 'load run' was), not 7 for its abort
        timed_out=timed_out,
        interrupted=interrupted,
        # a run stopped because its records could not be written (its exitCode 0 or 2) is not a
        # failed check in the merge either; an --abort-on-fail run's abort is (exit 7)
        abort_failed=abort_failed,
        asked_rate=asked,
        runs=sum(int(d.get("runs") or 1) for _, d in docs),
        sources=[s for s, _ in docs],
        run_ids=list(holder),
        merge_notes=merge_notes,
        streams=max(1, streams),
    )
    report.judge(extra or tuple(texts.values()))
    return report


def _mixed_runs(docs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Notes for a merge of runs that are not shares of one load (``load report`` merges them, as
    asked, and says so): different targets (the figures are their sum, the report names the first),
    different negotiated A2A versions or bindings (the percentiles mix them), or open and closed
    models together (the closed runs' latencies hide the stalls the open runs' show)."""

    def listed(values: set[str]) -> str:
        shown = sorted(values)
        return ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")

    targets = {str(d.get("target")) for _, d in docs}
    spoken = set()
    for _, d in docs:
        neg = d.get("negotiated")
        if isinstance(neg, dict):
            spoken.add(f"{neg.get('protocolVersion')} {neg.get('protocolBinding')}")
    kinds = set().union(*(_model_kinds(d.get("model")) for _, d in docs))
    out = []
    if len(targets) > 1:
        out.append(
            f"the merged runs loaded {len(targets)} targets ({listed(targets)}): the figures are "
            f"their sum, not one agent's; 'target' names the first"
        )
    if len(spoken) > 1:
        out.append(f"the merged runs spoke {listed(spoken)}: their latencies are mixed in one histogram")
    if {"open", "closed"} <= kinds:
        out.append(
            "the merged runs mix the open and the closed model: the closed runs' latencies hide "
            "stalls (coordinated omission) that the open runs' show"
        )
    return out


__all__ = ["REPORT_KIND", "LoadReport", "ModelSpec", "Progress", "merge_reports", "ramp_note", "rates_of"]
