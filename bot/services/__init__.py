"""Business rules: plain data in, plain data out, no Telegram objects."""
