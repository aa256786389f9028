"""Tasks through their life: reading them with status and light (queries), acting on
them (lifecycle: 签收 … 办结; extensions: 延期; both through transitions, the one write
path), the indicator values a report carries (readings) and their attachments. The
coordinators' desk is a room of its own above the outbox (:mod:`duban.services.desk`)."""
