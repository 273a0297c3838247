-- 021: housekeeping for mail, like fluentai_purge() for sessions, e.g.
-- from cron once a day:
--   psql -c "SELECT fluentai_mail_purge()"
-- Deletes email tokens that expired or were used more than `keep` ago,
-- and outbox rows sent or given up more than `keep` ago (pending rows are
-- never deleted).  Returns the number of outbox rows deleted.
CREATE FUNCTION fluentai_mail_purge(p_keep interval DEFAULT interval '30 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM fluentai_email_tokens t
     WHERE t.expires_at < now() - p_keep
        OR t.used_at < now() - p_keep;

    DELETE FROM fluentai_mail_outbox o
     WHERE o.sent_at < now() - p_keep
        OR o.failed_at < now() - p_keep;
    GET DIAGNOSTICS n = ROW_COUNT;

    RETURN n;
END
$$;
