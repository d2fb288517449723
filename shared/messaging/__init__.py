"""The event backbone: outbox, relay, consumers, retries, dead letters, retention."""
