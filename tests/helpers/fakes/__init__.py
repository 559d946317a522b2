"""Fake remote servers the adapters and the Salesforce sync talk to, each used by more than one test module."""
