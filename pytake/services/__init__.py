"""Domain services: plain Python over the database, never importing Reflex."""
