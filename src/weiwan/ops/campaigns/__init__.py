"""Campaigns (四步一库): plan, rehearse on a sample, approve level by level, run, evaluate
against the hold-out, and keep successful plans in the plan library to clone.

Modules: :mod:`.service` (plans: reading, create / edit / clone, the shared access checks and
transitions), :mod:`.rehearsal` (targets, the live count, rehearsal), :mod:`.approvals`
(approval chains, submit / approve / reject), :mod:`.execution` (start, complete, treated
members), :mod:`.evaluation` (evaluation, plan library, members summary), :mod:`.targeting`
(the target filter), :mod:`.api` (routes).

States::

    draft ─rehearse→ rehearsed ─submit→ submitted ─approve (last level)→ approved ─start→ running
      ▲                  │                  │  └─approve (not last)→ submitted (next level)
      └──── edit ────────┴──────────────────┴─reject→ rejected ─edit→ draft
    running ─complete→ completed ─evaluate→ evaluated (evaluate again to refresh the figures)

Editing a rehearsed, submitted or rejected plan sends it back to draft and drops its rehearsal
(editing a submitted plan withdraws it from approval); an approved or later plan cannot change.

Who may do what (PRODUCT.md "Who uses it": centre heads plan campaigns, the director approves
them, analysts define target groups):

- plan (create, edit, rehearse, clone, preview a count): centre head (for the branches they
  see), director, analyst. The analyst builds targets, so may draft and rehearse a plan, but
  does not own a centre's work and may not submit it.
- submit: centre head of the plan's branch (or a parent branch), director.
- approve / reject: whoever holds the role of the current level of the branch's approval chain,
  may approve (roles table) and sees the plan's branch; never the plan's creator.
- start / complete / evaluate: centre head of the plan's branch (or a parent), director.
- read: director, analyst, admin all plans; centre heads their branches' plans; agents, shift
  leads, store clerks and hotline agents the running campaigns of their branch (and of the
  branches above it), read-only.
- approval chains: configured by the admin (audited as config_change).

The role groups are the constants of :mod:`.service`. Targets are the customers of the
published ``customer_view`` that match the plan's filter (:mod:`.targeting`) within the plan's
branch and its sub-branches. Rehearsal and evaluation formulas and their assumptions:
docs/campaigns.md and the constants of :mod:`.rehearsal` and :mod:`.evaluation`.
"""
