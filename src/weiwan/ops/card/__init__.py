"""The customer card (统一视图): what every channel shows of one customer, composed from the
customer view, tasks, contacts and offers (above those domains, so none of them imports it)."""
