-- Back to 0001's query (the rows deleted by the up migration are not restored).
ALTER TABLE user_names_mv MODIFY QUERY
SELECT
    assumeNotNull(user_id) AS user_id,
    login,
    coalesce(display_name, login) AS display_name,
    min(ts) AS first_seen,
    max(ts) AS last_seen
FROM messages
WHERE user_id IS NOT NULL
GROUP BY user_id, login, display_name;
