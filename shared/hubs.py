"""The hubs ("knutepunktene"): every resource, item, menu and calendar belongs to one.

Strømsø is the pilot and the seeded hub; a second hub is data, not a code change.
"""

DEFAULT_HUB = "stromso"
