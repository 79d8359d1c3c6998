"""The consent and objection ledger (个人信息保护法): per subscriber, purpose and channel, from the
CRM's file, agents and SMS unsubscribe replies; enforced by the contact checks, the SMS send,
the real-time events and (collected into the warehouse) the day's decisions."""
