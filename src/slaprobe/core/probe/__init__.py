"""PURE: a check's budget, judging a response, the HTTP/1.1 response parser."""
