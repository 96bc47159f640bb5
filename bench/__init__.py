"""Benchmarks (``make bench``): each one measures against a baseline taken in the same run and
reports a ratio, so the figures mean something on any machine. Not collected by pytest."""
