"""The holder portal (the マイナポータル role): sign in with the card, read one's own records, withdraw a consent."""
