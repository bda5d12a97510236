"""The data: cells and their selection, event loops, environment identity, result files, the history store.

Kept light: worker processes import ``cells``, ``loops`` and ``environ`` from here.
"""
