"""Cards: numbers, secrets, sealing and data keys."""
