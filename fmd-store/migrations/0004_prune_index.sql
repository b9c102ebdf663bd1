-- Pruning deletes occurrences by request: index them by it.
CREATE INDEX {p}exception_occurrence_request ON {p}exception_occurrence (request_id)
