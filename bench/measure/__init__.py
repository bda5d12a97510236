"""The measuring side: what a worker process imports (the standard library, pyperf, the loop, the impls).

``worker`` is the pyperf script, ``timing`` the timed region, ``check`` the
equivalence check every measuring process runs first; ``count``, ``memory`` and
``profile`` are the halves of those commands that run in the measured process;
``cell`` sets one cell up on a fresh loop for memory and profile, below the
worker that starts them.
Nothing here imports the commands, the analysis or the reports.
"""
