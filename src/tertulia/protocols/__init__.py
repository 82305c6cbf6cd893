"""Sans-I/O codecs: bytes to commands and events to bytes, with no sockets in sight."""
