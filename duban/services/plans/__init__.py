"""Plans: read plan documents, review drafts, import and change stored plans, and turn
each measure into department tasks (交办). Owns plans, measures, responsibilities, targets,
single 督办件 and the withdrawal of tasks a changed plan no longer yields."""
