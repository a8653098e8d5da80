"""The back office's subscriptions (filled in by the admin step)."""
