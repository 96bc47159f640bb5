"""Deliveries: handing generated cards to buyers through TOP (ma.send, card.bind)."""
