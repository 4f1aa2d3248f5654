"""Thin HTTP routes: validate, call the domain module, shape the response."""
