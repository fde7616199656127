"""The team service: the socket loop (`server`), the table of operations with their bounds
(`operations`), the wire format (`wire`) and the client that speaks it (`client`). Never imports the app."""
