"""PyTake: a customer-service inbox for the official WhatsApp Business Cloud API."""

__version__ = "0.1.0"
