"""`slaprobe demo`: a simulated CloneNer, a month of history, the real daemon."""
