"""The reporter's web client: server-rendered pages with progressive enhancement."""
