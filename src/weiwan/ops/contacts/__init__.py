"""Contacts and their outcomes, the contact-policy check, acceptances and cross-channel closure."""
