-- The customer card in one statement on PostgreSQL (see ops/card/service.py).
-- Parameters are bound by name; timestamps as UTC text in the generic path's format.
WITH audit AS (
    INSERT INTO audit_events (at, user_id, action, target_type, target_id, detail, ip)
    VALUES (:at, :user_id, 'pii_view', 'customer', :sid, :detail, :ip)
    RETURNING id
),
latest AS (
    SELECT c.id, c.at, c.channel, c.status, c.blocked_reason, c.over_rule,
           u.display_name AS by,
           c.task_id, c.policy_id, c.note
    FROM contacts c LEFT JOIN users u ON u.id = c.user_id
    WHERE c.subscriber_id = :sid
    ORDER BY c.at DESC, c.id DESC
    LIMIT :history_limit
)
SELECT
    (SELECT count(*) FROM audit) AS audited,
    (SELECT coalesce(json_agg(json_build_object(
            'policy_id', p.policy_id, 'name_zh', p.name_zh, 'name_en', p.name_en,
            'offer_type', p.offer_type, 'channels', p.channels, 'script_zh', p.script_zh,
            'script_en', p.script_en, 'total_cost', p.total_cost, 'valid_to', p.valid_to)
            ORDER BY p.policy_id), '[]')
     FROM policies p
     WHERE p.policy_id = ANY(:policy_ids) AND p.valid_from <= :today AND p.valid_to >= :today
    ) AS policies,
    (SELECT coalesce(json_agg(json_build_object(
            'task_id', t.id, 'channel', t.channel, 'source', t.source,
            'campaign_id', t.campaign_id, 'policy_id', t.policy_id, 'assignee', u.display_name,
            'due_at', to_char(t.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), 'title_zh', t.title_zh, 'title_en', t.title_en)
            ORDER BY t.due_at ASC NULLS LAST, t.id), '[]')
     FROM tasks t LEFT JOIN users u ON u.id = t.assignee_id
     WHERE t.subscriber_id = :sid AND t.status = 'open'
    ) AS open_tasks,
    (SELECT coalesce(json_agg(json_build_object(
            'contact_id', l.id, 'at', to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), 'channel', l.channel, 'status', l.status,
            'blocked_reason', l.blocked_reason, 'over_rule', l.over_rule, 'by', l.by, 'task_id', l.task_id,
            'policy_id', l.policy_id, 'note', l.note,
            'outcomes', (SELECT coalesce(json_agg(json_build_object(
                    'outcome', o.outcome, 'refusal_reason', o.refusal_reason,
                    'call_back_at', to_char(o.call_back_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), 'policy_id', o.policy_id) ORDER BY o.id), '[]')
                FROM contact_outcomes o WHERE o.contact_id = l.id))
            ORDER BY l.at DESC, l.id DESC), '[]')
     FROM latest l
    ) AS contacts,
    (SELECT coalesce(json_agg(json_build_object(
            'acceptance_id', a.id, 'policy_id', a.policy_id, 'channel', a.channel, 'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), 'status', a.status,
            'campaign_id', a.campaign_id) ORDER BY a.at DESC), '[]')
     FROM acceptances a WHERE a.subscriber_id = :sid
    ) AS acceptances,
    (SELECT coalesce(json_object_agg(ca.kind, u.display_name), '{}')
     FROM customer_assignments ca JOIN users u ON u.id = ca.user_id
     WHERE ca.subscriber_id = :sid
    ) AS managers,
    (SELECT coalesce(json_agg(d.channel ORDER BY d.channel), '[]')
     FROM do_not_disturb d WHERE d.subscriber_id = :sid
    ) AS do_not_disturb,
    (SELECT coalesce(json_agg(json_build_object('purpose', k.purpose, 'channel', k.channel)
            ORDER BY k.purpose, k.channel), '[]')
     FROM consents k WHERE k.subscriber_id = :sid AND k.state = 'objection'
    ) AS objections
