"""Receiver tests."""
