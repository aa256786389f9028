"""The escalation ladder over time: policy versions, the sweep that moves due tasks up
the ladder, what comes next for a task, and one reminder round at a time."""
