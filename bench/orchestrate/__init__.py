"""The parent side of measuring: worker processes, rounds, Ctrl-C, ``ab``'s sides, calibration, progress.

``rounds`` runs the pyperf matrix, ``children`` starts and stops every child
process, ``sides`` probes ``ab``'s interpreters; ``count``, ``memory`` and
``profile`` are the parent halves of those commands. They return data for the
commands to write and print (progress, notes and the FAILED lines of cells
excepted: those are said as they happen).
"""
