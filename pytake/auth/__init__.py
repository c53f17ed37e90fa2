"""Passwords, signed tokens, server-side sessions and sign-in throttling."""
