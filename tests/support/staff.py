"""A staff directory for tests that run the services as processes: one person per role,
placeholder contacts, SMS at any hour (so that a test may run at night)."""

STAFF_YAML = """
staff:
  - {name: Bookingansvarlig, roles: [booking], email: booking@example.org,
     phone: "+47 000 00 001", sms_hours: "00:00-24:00", language: nb}
  - {name: Innbyggertorget, roles: [desk], email: desk@example.org,
     phone: "+47 000 00 002", sms_hours: "00:00-24:00", language: nb}
  - {name: Café Jasmin, roles: [cafe], email: kafe@example.org,
     phone: "+47 000 00 003", sms_hours: "00:00-24:00", language: nb}
"""
