"""Back-office screens of fulfilment: labels (imported by fulfilment/admin.py)."""
