"""`cardmaker`: the operator's command-line tool for the local stack and deployed stacks."""
