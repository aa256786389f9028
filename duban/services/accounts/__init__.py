"""Who is who: staff accounts (staff), the department directory (directory), the
organisation file read into the database (org_file), the organisation as stored — its
settings and who gets which message (org) — and the password-less department links
(links, link_access)."""
