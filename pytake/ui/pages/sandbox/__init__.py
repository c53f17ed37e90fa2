"""The customer phone page: play customers of a sandbox number and see what agents send.

Admins only. What the phone shows comes from this process's simulator (pytake.sandbox.live);
what the customer does goes to PyTake as Meta's signed webhooks. Opening a chat reads it,
which PyTake learns from a "read" status like any other.
"""

from pytake.ui.pages.sandbox.page import phone_page
from pytake.ui.pages.sandbox.state import PhoneState

__all__ = ["PhoneState", "phone_page"]
