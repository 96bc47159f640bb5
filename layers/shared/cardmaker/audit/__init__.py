"""The audit trail: who did what to which order, and when, appended and never changed."""
