"""The closed loop back to the ERP: the outbox, its emitters and the sender (issue 14 §2–5)."""
