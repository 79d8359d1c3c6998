"""Organisation and access: users, roles, branches, teams, authentication, audit."""
