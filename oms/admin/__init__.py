"""The back-office kit every app's admin is built on, and the kernel's own pages.

- `site`: the admin site (API-only accounts never get in).
- `readonly`: `ReadOnlyModelAdmin` and `ReadOnlyInline`, for rows that services write.
- `services`: `ServiceModelAdmin`, whose add and change forms write through services (secrets
  write-only).
- `tools`: `ToolAdmin`, the base of the custom screens and actions: the actor, plain forms laid
  out as admin forms, a `DomainError` shown on its form, one message per selected object, and
  the context of the one tool template (`admin/oms/tool.html`).
- `fields`: `IntegerField` (within PostgreSQL's integer) and `UsedValuesFilter`.
- `outbox` and `inbox`: the kernel's pages (the outbox, the workers' heartbeats, the inbound
  webhooks), registered by `oms.apps.OmsAdminConfig.ready` (this package is the kit: importing
  it registers nothing, and the admin site class in `site` is imported while the site is being
  built).
"""
