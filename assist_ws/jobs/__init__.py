"""The long-running worker (``assist-ws worker``) and its jobs: settlement at each center's
cut-off, hold expiry, abandoned-order timeouts and the resolution of unknown outcomes.

A job is ``run_once(container) -> int`` (how much it did); ``worker.JOBS`` lists them in the
order one round runs them.  Any number of workers may run against one PostgreSQL database:
every job claims its rows with ``FOR UPDATE SKIP LOCKED`` and leaves nothing half-done.
"""
