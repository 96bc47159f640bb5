"""E-voucher fulfilment without an operator: the platform's send-code notices (发码通知), the
products that map an item's merchant code to a stock of cards, and what each notice does."""
