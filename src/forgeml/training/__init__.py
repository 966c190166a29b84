"""Training: tracked runs, candidates, search, evaluation and gates."""
