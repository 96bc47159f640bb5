"""Cardmaker's shared layer: the TOP protocol, the domain of orders, and their storage."""
