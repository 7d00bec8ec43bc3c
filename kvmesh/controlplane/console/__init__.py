"""The web console at /console: server-rendered pages over the same store the API serves."""
