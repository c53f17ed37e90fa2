"""Telling connected agents that something changed."""
