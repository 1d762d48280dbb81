"""The shelters have no periodic work: a hold lapses at its own end time, and nothing is swept."""
