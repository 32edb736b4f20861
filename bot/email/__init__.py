"""Email: templates, the transactional outbox (`mails`) and its delivery (`service`)."""
