"""The chat itself: nicks, rooms, sessions, messages and the hub. No wire formats, no I/O."""
