"""Django's PostgreSQL backend, with the JSON columns of a bulk INSERT sent as one parameter.

Django 5.2 inserts many rows through UNNEST: one array parameter per column. Django's psycopg
binds parameters on the client, so psycopg writes each array as an SQL literal in Python, and a
jsonb[] array escapes every element's every quote one regex match at a time: on the reference
machine that escaping was a fifth of a channel sync's time (the orders' raw payloads, the
outbox's arguments, the timeline's data), measured with py-spy. Here a JSON column of such an
INSERT is sent as one JSON array (`jsonb_array_elements`, in order), which psycopg quotes once,
in C. Everything else is Django's backend unchanged; oms.env.database_config selects it for
postgres:// URLs.
"""
