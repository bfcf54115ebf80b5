"""A pytest plugin, loaded into the workspace's own test process, that reports as JSON.

It is copied to a temporary folder and loaded with ``-p`` so the workspace's
interpreter needs nothing of ours installed; it uses only pytest's hooks and the
standard library. Outcomes come from pytest's report objects, never from its text.
"""

import dataclasses
import json
import os
import time

_VISIBLE = [
    os.path.realpath(p) for p in os.environ.get("PUNIE_PYTEST_VISIBLE", "").split(os.pathsep) if p
]
"""Real paths whose files reports may quote (the workspace and library roots); empty: all."""
_HIDDEN = "    (a frame in a file outside the workspace is hidden)"

_results = {}
_order = []
_started = time.perf_counter()


def _visible(path):
    if not _VISIBLE:
        return True
    real = os.path.realpath(str(path))
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in _VISIBLE)


def _hide_outside_frames(report):
    """Replace traceback entries from files outside the visible roots (their source lines
    would quote those files) by one line saying a frame was hidden."""
    longrepr = report.longrepr
    chain = getattr(longrepr, "chain", None)
    tracebacks = [element[0] for element in chain] if chain else []
    if not tracebacks and hasattr(longrepr, "reprtraceback"):
        tracebacks = [longrepr.reprtraceback]
    for traceback in tracebacks:
        entries = []
        for entry in traceback.reprentries:
            location = getattr(entry, "reprfileloc", None)
            if location is not None and not _visible(location.path):
                # The entry itself, emptied: pytest's entry classes live in its private
                # ``_pytest`` package, and a report dataclass can be copied without them.
                entry = dataclasses.replace(
                    entry,
                    lines=[_HIDDEN],
                    reprfuncargs=None,
                    reprlocals=None,
                    reprfileloc=None,
                    style="value",
                )
            entries.append(entry)
        traceback.reprentries = entries


def _entry(nodeid):
    if nodeid not in _results:
        _order.append(nodeid)
        _results[nodeid] = {
            "name": nodeid,
            "outcome": "passed",
            "duration": 0.0,
            "message": None,
            "traceback": None,
        }
    return _results[nodeid]


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2])  # a skip: (file, line, reason)
    text = getattr(report, "longreprtext", "") or ""
    return text.strip().splitlines()[-1] if text.strip() else None


def pytest_runtest_logreport(report):
    if not _visible(report.fspath):
        return  # a test file linked from outside the workspace: not reported
    if report.failed:
        _hide_outside_frames(report)
    entry = _entry(report.nodeid)
    entry["duration"] += getattr(report, "duration", 0.0)
    if hasattr(report, "wasxfail"):
        if report.skipped:
            entry["outcome"] = "skipped"
            entry["message"] = "xfail: " + (report.wasxfail or "expected to fail")
        return
    if report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
        entry["message"] = _message(report)
    elif report.failed:
        # A failing call is a failed test; a failing setup or teardown means it could not run.
        entry["outcome"] = "failed" if report.when == "call" else "error"
        entry["message"] = _message(report)
        entry["traceback"] = report.longreprtext


def _progress(record):
    """One line of ``PUNIE_PYTEST_PROGRESS``, written as it happens: if the process ends
    before ``pytest_sessionfinish`` (a test calls ``os._exit``, crashes the interpreter,
    or is killed), the tests that finished and the one that was running are known."""
    path = os.environ.get("PUNIE_PYTEST_PROGRESS")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def pytest_runtest_protocol(item, nextitem):
    if _visible(item.path):
        _progress({"started": item.nodeid})


def pytest_runtest_logfinish(nodeid, location):
    if nodeid in _results:
        _progress({"finished": _results[nodeid]})


def pytest_collectreport(report):
    if report.failed:
        _hide_outside_frames(report)
        entry = _entry(report.nodeid or "<collection>")
        entry["outcome"] = "error"
        entry["message"] = _message(report)
        entry["traceback"] = report.longreprtext


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("PUNIE_PYTEST_REPORT")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "exitstatus": int(exitstatus),
                "duration": time.perf_counter() - _started,
                "tests": [_results[nodeid] for nodeid in _order],
            },
            handle,
        )
