"""The browser client: static files served as they are by the web door (no build step)."""
