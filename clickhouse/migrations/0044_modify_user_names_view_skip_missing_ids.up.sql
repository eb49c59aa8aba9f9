-- user_names_mv (0001) never dropped messages without a user id: it selects
-- `assumeNotNull(user_id) AS user_id` and filters `WHERE user_id IS NOT NULL`, and ClickHouse resolves
-- `user_id` in WHERE to that alias (never NULL), not to the column. Every id-less message (Chatty logs
-- and other imports) was stored with user_id '', one shared "id" for all such chatters, so
-- GET /api/v1/users/{login} listed every id-less chatter's names as the user's name history, and an
-- opt-out of one of them deleted all their user_names rows. The filter below is written on the alias,
-- so it holds whichever way the name resolves; the rows already stored under '' are removed.
ALTER TABLE user_names_mv MODIFY QUERY
SELECT
    assumeNotNull(user_id) AS user_id,
    login,
    coalesce(display_name, login) AS display_name,
    min(ts) AS first_seen,
    max(ts) AS last_seen
FROM messages
WHERE user_id != ''
GROUP BY user_id, login, display_name;

ALTER TABLE user_names DELETE WHERE user_id = '' SETTINGS mutations_sync = 2;
