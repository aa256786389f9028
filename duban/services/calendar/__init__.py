"""The working-day calendar: the data it is loaded from (data), what it knows (status),
adding a year (changes) and the due dates that move with it (due_dates)."""
