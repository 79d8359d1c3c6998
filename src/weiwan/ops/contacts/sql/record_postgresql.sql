-- Writing one recorded call in one statement on PostgreSQL (see ops/contacts/record_pg.py):
-- the contact, its outcomes, the acceptance, the closure of the subscriber's other open tasks
-- for the policy or campaign, and the change to the task worked. The caller holds the
-- subscriber's lock and has locked the task worked (FOR UPDATE); the generic path
-- (contacts.service.record_call_generic) does the same in up to five statements. A
-- data-modifying CTE runs whether or not the final SELECT reads it.
WITH contact AS (
    INSERT INTO contacts (subscriber_id, at, channel, status, blocked_reason, over_rule,
                          task_id, campaign_id, policy_id, user_id, note)
    VALUES (CAST(:subscriber_id AS varchar), CAST(:at AS timestamptz), CAST(:channel AS varchar),
            CAST(:status AS varchar), CAST(:blocked_reason AS varchar),
            CAST(:over_rule AS varchar), CAST(:task_id AS integer),
            CAST(:campaign_id AS integer), CAST(:policy_id AS varchar), CAST(:user_id AS integer),
            CAST(:note AS text))
    RETURNING id
),
outcomes AS (
    INSERT INTO contact_outcomes (contact_id, outcome, refusal_reason, call_back_at, policy_id)
    SELECT contact.id, o.outcome, o.refusal_reason, o.call_back_at, o.policy_id
    FROM contact,
         unnest(CAST(:outcomes AS varchar[]), CAST(:refusal_reasons AS varchar[]),
                CAST(:call_back_ats AS timestamptz[]), CAST(:outcome_policies AS varchar[]))
             WITH ORDINALITY AS o (outcome, refusal_reason, call_back_at, policy_id, n)
    ORDER BY o.n
    RETURNING id
),
acceptance AS (
    INSERT INTO acceptances (subscriber_id, policy_id, campaign_id, contact_id, channel, user_id,
                             at, status, cost)
    SELECT CAST(:subscriber_id AS varchar), CAST(:accepted_policy AS varchar),
           CAST(:campaign_id AS integer), contact.id, CAST(:channel AS varchar),
           CAST(:user_id AS integer), CAST(:at AS timestamptz), 'active',
           CAST(:cost AS double precision)
    FROM contact
    WHERE CAST(:accepting AS boolean)
    RETURNING id
),
closed AS (
    UPDATE tasks
    SET status = 'closed', closed_at = CAST(:at AS timestamptz),
        closed_reason = 'accepted in ' || CAST(:channel AS varchar)
                        || ' (contact ' || (SELECT id FROM contact) || ')'
    WHERE CAST(:accepting AS boolean)
      AND tasks.subscriber_id = CAST(:subscriber_id AS varchar)
      AND tasks.status = 'open'
      AND (tasks.policy_id = CAST(:accepted_policy AS varchar)
           OR tasks.campaign_id = CAST(:campaign_id AS integer))
      AND (CAST(:task_id AS integer) IS NULL OR tasks.id <> CAST(:task_id AS integer))
    RETURNING tasks.id
),
finished AS (
    UPDATE tasks
    SET due_at = CASE WHEN CAST(:move_due AS boolean)
                      THEN CAST(:due_at AS timestamptz) ELSE tasks.due_at END,
        status = CASE WHEN CAST(:finish AS boolean) THEN 'done' ELSE tasks.status END,
        closed_at = CASE WHEN CAST(:finish AS boolean)
                         THEN CAST(:at AS timestamptz) ELSE tasks.closed_at END,
        closed_reason = CASE WHEN CAST(:finish AS boolean)
                             THEN CAST(:finished_reason AS varchar) ELSE tasks.closed_reason END
    WHERE tasks.id = CAST(:task_id AS integer)
      AND (CAST(:move_due AS boolean) OR CAST(:finish AS boolean))
)
SELECT
    (SELECT id FROM contact) AS contact_id,
    ARRAY(SELECT id FROM outcomes ORDER BY id) AS outcome_ids,
    (SELECT id FROM acceptance) AS acceptance_id,
    ARRAY(SELECT id FROM closed ORDER BY id) AS closed_task_ids
