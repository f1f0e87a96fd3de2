"""Deterministic synthetic corpus in the BAAI/SVIT layout (`svit sample`); entry point synth.corpus.generate_corpus."""
