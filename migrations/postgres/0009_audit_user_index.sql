-- A user's own audit events, newest first (the Security page's recent activity, `latchkey audit --user`).
CREATE INDEX audit_events_user_at ON audit_events (user_id, at);
