"""One module per page; each page's state lives beside it."""
