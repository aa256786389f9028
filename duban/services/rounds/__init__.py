"""Rounds: the ladder and the outbox together. The daily reminder round (sweep →
route → deliver), its sweep fanned out over measures for the flow (fanout), and
its replay over many days; the weekly digest queued and
sent. This room sits on top of ladder, outbox and reports and hands the outbox
the message builder of each delivery kind."""
