"""The invitee's side: the inbox, marking seen, answering."""
