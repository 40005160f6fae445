"""Keeping an ``INFLOW_HOME`` whole: one writer at a time (``lock``), and what a run does before it
writes (``upkeep``): fail runs whose process died, clean up an interrupted publish, check the
warehouse and rebuild it from its backup (``recovery``, ``backups``), migrate a home made by an
earlier release (``migrations``) and prune the Dagster run history (``runs``)."""
