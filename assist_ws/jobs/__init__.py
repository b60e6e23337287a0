"""The long-running worker: settlement at cut-off, hold expiry, timeouts, notifications."""
