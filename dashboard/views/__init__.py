"""The dashboard's pages, one module per page; actions sit beside their page."""
