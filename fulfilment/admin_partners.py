"""Back-office screens of fulfilment: partners (imported by fulfilment/admin.py)."""
