"""WhatsApp Business Cloud API: the first channel adapter."""
