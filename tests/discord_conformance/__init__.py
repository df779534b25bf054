"""Discord conformance of the requests the bot sends: recorder, rules and the pytest plugin."""
