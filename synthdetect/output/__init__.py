"""What an analyst reads: the output formats of ``scan`` and ``report``.

* ``writers``: one ``Writer`` per format in ``WRITERS`` (``register`` adds one), ``write``.
* ``text``: table, json, jsonl and csv renderers, the schema version, ``read_results``.
* ``html``: the HTML case report.
* ``evidence``: the one check that an output path is never a file the command reads.

This ``__init__`` imports nothing: import the modules (``from synthdetect.output import writers``).
"""
