"""Back-office screens of fulfilment: tracking (imported by fulfilment/admin.py)."""
