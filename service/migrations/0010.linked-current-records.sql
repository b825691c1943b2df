-- depends: 0009.audit-least-privilege
-- The current version of every record that a live link ties to a holder. Reception's check and the holder's
-- coverage, linking's re-evaluation and the portal's history all ask for exactly these rows; the rule (a link
-- not ended, the record's current version) was written out in each of their queries.

CREATE VIEW linked_current_records AS
SELECT l.holder_id, r.*
FROM links l
JOIN eligibility_records r
  ON r.insurer_number = l.insurer_number AND r.record_id = l.record_id AND r.is_current
WHERE l.unlinked_at IS NULL;

GRANT SELECT ON linked_current_records TO onshi_app;
