"""What every HTTP service of photostream shares: bearer tokens and problem+json errors.

Both the ingest service (write side) and the read API (read side) verify the same
tokens and answer errors in the same RFC 9457 shape, so clients handle one format.
"""
