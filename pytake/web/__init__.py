"""Plain HTTP routes mounted beside Reflex (health, cookies; webhooks later)."""
