"""Emitters: deliver a batch of outbox changes to one target (files, REST, a database table)."""
