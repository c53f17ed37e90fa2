"""Chatbot flows: the list, the builder (steps, their branches, trigger) and its test mode,
each in its own module of this package."""

from pytake.ui.pages.flows.builder import BuilderState
from pytake.ui.pages.flows.listing import FlowsState, flows_page
from pytake.ui.pages.flows.page import builder_page

__all__ = ["BuilderState", "FlowsState", "builder_page", "flows_page"]
