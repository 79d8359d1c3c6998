"""weiwan (维挽): customer retention for telecom operators."""

__version__ = "0.1.0"
