"""`knutepunkt demo`: a day at Knutepunkt Strømsø played against a running hub."""
