"""What people read: the ledger (台账) and its files, scorecards, the dashboard, measure
and unit pages, charts, logs, calendar feeds, the weekly digest and issued documents."""
