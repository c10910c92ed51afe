"""``kubectl archive``: the kubectl plugin for ArchiveSchedules and ArchiveRuns.

Start-up must stay cheap (``kubectl archive --help`` under 0.3 s): modules imported by
``main`` import only click and the standard library at module level; YAML, pydantic and the
operator's models are imported inside the functions that need them.
"""
