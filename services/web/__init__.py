"""The human front of the hub: the staff desk (/ansatt/) and, later, the citizens' pages (/).

It owns no domain data: every page reads and acts through the four services' HTTP APIs with
the signed-in person's own access token, and follows the streams by XREAD for live updates.
It keeps only its sessions (in Redis).
"""
