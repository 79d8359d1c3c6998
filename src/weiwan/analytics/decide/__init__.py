"""Next best action (一户一荐): at most one action per subscriber per day, chosen by value.

For every subscriber with a churn risk or a retention alert, each eligible offer and channel
is worth ``EV = P(churn) × uplift × value saved − (offer cost + contact cost)``, where uplift is
the relative cut in the churn probability: the offer type's prior (or learned) effect × how well
it addresses the subscriber's churn driver × how well the channel delivers it. Arbitration then
grants the best candidates under the policies' budgets, the subscribers' value caps and the
channels' daily capacity, one per subscriber; care triggers fill the capacity left. Hold-out
subscribers (stable hashing per trigger) get no action and are recorded with what they would
have got, so each effect can be measured against them.

Arbitration is ours, not a library's: a greedy pass in rounds over whole columns (each
subscriber's best remaining candidate, cumulative use of each budget and channel in value
order), because the constraints (budgets per policy, capacity per channel, one action per
subscriber) are simple and the data is millions of rows; an LP solver would add a dependency
and minutes for a fraction of a percent of value.
"""
