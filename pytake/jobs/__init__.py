"""Background work: processing stored webhooks and downloading media, durably and once."""
