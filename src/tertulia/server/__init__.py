"""asyncio: listeners, bounded connections, the doors that glue codecs to the hub, shutdown."""
