"""Reception: card challenges, verification of eligibility, registration by the holder's own signed request."""
