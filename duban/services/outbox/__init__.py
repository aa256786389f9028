"""The outbox: route due notices to recipients' channels, write each reader's message
and deliver it, with retries and the delivery record."""
