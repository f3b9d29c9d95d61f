"""Rendering: the only package that imports rich.

* ``output.Output``: the one output object of a run (table | json | jsonl), narration and errors;
* ``terminal``: terminal safety (control/bidi characters escaped), consoles, ``safe``/``count``/``age``;
* ``verbose.VerboseSink``: the ``-v``/``-vv`` wire log;
* one view module per domain: ``card``, ``caps``, ``tasks``, ``sessions``, ``dlq``, ``smoke``,
  ``stream``, ``probe``. A view is ``(out: Output, doc: dict) -> None`` over the ``-o json`` document.
"""
