"""The working-day calendar: the data it is loaded from, and what moves when a year's
holidays and 调休 days arrive."""
