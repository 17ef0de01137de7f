# flightdeck's callback for ansible-playbook: one JSON line per task result, handler result
# and the recap, appended to the file named by $FLIGHTDECK_ANSIBLE_EVENTS. The stdout
# callback (`default`) stays as it is, for the deploy log. Written next to each deploy's log
# by flightdeck, which puts its directory first in ANSIBLE_CALLBACK_PLUGINS for that run; it
# needs no enabling (so the callbacks your ansible.cfg enables stay enabled) and writes
# nothing unless FLIGHTDECK_ANSIBLE_EVENTS is set.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: flightdeck_events
    type: notification
    short_description: JSON lines of task results for flightdeck's deploy journal
    description:
      - Writes one JSON object per line for each runner, handler and recap event.
    requirements:
      - enabled by flightdeck, which sets FLIGHTDECK_ANSIBLE_EVENTS
"""

import json
import os

from ansible.plugins.callback import CallbackBase


def _rescued(task):
    """Whether a failure of `task` is caught by the `rescue` of a block around it."""
    child, parent = task, getattr(task, "_parent", None)
    while parent is not None:
        if getattr(parent, "rescue", None):
            for t in getattr(parent, "block", None) or []:
                if t is child or getattr(t, "_uuid", None) == getattr(child, "_uuid", False):
                    return True
        child, parent = parent, getattr(parent, "_parent", None)
    return False


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "flightdeck_events"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._out = None
        path = os.environ.get("FLIGHTDECK_ANSIBLE_EVENTS")
        if path:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._out = os.fdopen(fd, "a", buffering=1)
        self._handlers = set()

    def _emit(self, event):
        if self._out is not None:
            self._out.write(json.dumps(event, sort_keys=True) + "\n")
            self._out.flush()

    def _result(self, kind, result, **extra):
        task = result._task
        r = result._result if isinstance(result._result, dict) else {}
        delegated = r.get("_ansible_delegated_vars") or {}
        fields = getattr(result, "_task_fields", None) or {}
        event = {
            "event": kind,
            "host": result._host.get_name(),
            "task": task.get_name().strip(),
            "handler": task._uuid in self._handlers,
            "changed": bool(r.get("changed", False)),
            "delegated_to": fields.get("delegate_to") or delegated.get("ansible_host"),
        }
        if kind in ("failed", "unreachable"):
            msg = r.get("msg") or r.get("stderr") or r.get("reason") or ""
            event["msg"] = (str(msg).strip().splitlines() or [""])[0][:500]
        event.update(extra)
        self._emit(event)

    def v2_playbook_on_handler_task_start(self, task):
        self._handlers.add(task._uuid)

    def v2_runner_on_ok(self, result):
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(
            "failed",
            result,
            ignored=bool(ignore_errors),
            rescued=(not ignore_errors) and _rescued(result._task),
        )

    def v2_runner_on_skipped(self, result):
        self._result("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._result("unreachable", result)

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for h in sorted(stats.processed.keys()):
            s = stats.summarize(h)
            hosts[h] = {
                k: int(s.get(k, 0))
                for k in ("ok", "changed", "unreachable", "failures", "skipped", "rescued", "ignored")
            }
        self._emit({"event": "recap", "hosts": hosts})
