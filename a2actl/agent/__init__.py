"""Reaching an agent: parse a TARGET once, fetch or read its AgentCard, choose an interface and
connect a typed client. Every domain that talks to an agent goes through here."""
