"""The templates page (see ``page``) and the states it is registered with."""

from pytake.ui.pages.templates.listing import TemplatesState
from pytake.ui.pages.templates.page import templates_page

__all__ = ["TemplatesState", "templates_page"]
