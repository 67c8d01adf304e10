"""aurora-restore common library: domain model, state store, events, configuration and AWS adapters."""
