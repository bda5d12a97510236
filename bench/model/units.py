"""Units shared by every table: results store seconds, tables show nanoseconds."""

#: Nanoseconds per second.
NS = 1e9
