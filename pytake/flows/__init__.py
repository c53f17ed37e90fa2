"""Chatbot flows: what a flow is (``definition``), how it runs (``engine``, pure), how it
checks answers (``answers``) and calls outside systems (``requests``)."""
