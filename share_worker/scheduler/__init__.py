"""Scheduling and retention arithmetic for protection policies.

Pure functions only: no I/O, no store, no clock reads (callers pass
``now``). :mod:`.schedule` says when a policy's runs fall due;
:mod:`.retention` says which of its checkpoints may be pruned.
"""
