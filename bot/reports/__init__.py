"""Analytics: Freshdesk activity import/export, generator, time-in-status report, charts."""
