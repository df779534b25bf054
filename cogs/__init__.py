"""Discord glue: slash commands, buttons and the job observer."""
