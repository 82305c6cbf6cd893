"""The async client library: JSON lines over TCP (later WebSocket), typed events and requests."""
