"""Adapters that live inside other tools (the Airflow provider)."""
