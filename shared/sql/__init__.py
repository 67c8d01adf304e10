"""SQL for the DB-user step: identifiers validated and quoted in one place, values always as parameters."""
