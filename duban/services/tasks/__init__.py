"""Tasks through their life: reading them with status and light, acting on them
(签收 … 办结, 延期), their attachments, and the coordinators' desk and work queue."""
