"""E-mailed invitations for external persons (iMIP, RFC 6047): the outbox, sending, replies."""
