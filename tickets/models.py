# Tickets, queues, routing and SLA policies arrive with the escalation work (issue 4).
