"""Tasks through their life: reading them with status and light, acting on them
(签收 … 办结, 延期) and their attachments. The coordinators' desk is a room of its own
above the outbox (:mod:`duban.services.desk`)."""
