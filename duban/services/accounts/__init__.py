"""Who is who: staff accounts, the department directory, the organisation file (contacts
and who gets which message) and the password-less department links."""
