"""External systems of the fulfilment app, each behind a typed Protocol (carriers, ...)."""
