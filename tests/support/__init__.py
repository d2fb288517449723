"""Helpers shared by the test suites: waiting with a deadline, servers, service processes."""
