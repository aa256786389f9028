"""Plans: read plan documents (documents, files, draft_io), review drafts, import a
reviewed draft (importer with validation, plan_diff, apply, import_report), stored plans
(catalog) and single 督办件 (items), and turn each measure into department tasks (交办:
to_assign reads, assignment writes), with the fates (fates) and withdrawal of tasks a
changed plan no longer yields."""
