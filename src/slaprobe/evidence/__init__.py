"""Evidence: the hash chain verified, and closed months frozen into statements."""
