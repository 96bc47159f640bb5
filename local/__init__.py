"""The embedded local stack: moto, the HTTP API adapter, stream pollers and a fake TOP gateway.
Development tooling only: nothing here ships in the Lambda layer."""
